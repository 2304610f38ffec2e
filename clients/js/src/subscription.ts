/**
 * One topic the app subscribed to: its cursor, the exactly-once filter and the
 * `prev` chain check, and the events the app listens to.
 *
 * The cursor is the seq of the last message handed to the app. A message at or
 * below it is a duplicate (a resume overlapping what arrived before the drop)
 * and is dropped. A message whose `prev` is not the cursor means a hole: the
 * SDK first tries to fill it by resuming from the cursor (the server then
 * sends exactly what is missing); if the same hole comes back, it is reported
 * with a `gap` event and delivery goes on, so a hole is never hidden.
 */
import { Emitter } from "./emitter.js";
import type { HawsError } from "./errors.js";
import type { Counts, Json, Member, PresenceAnswer, ServerFrame, Who } from "./frames.js";

export interface Message {
  topic: string;
  seq: number;
  prev: number;
  ts: number;
  data: Json;
  from?: string;
  mid?: string;
  /** The stored message could not be carried by this codec; `data` is null. */
  undeliverable?: boolean;
}

export interface Recovered {
  topic: string;
  /** True when history after the cursor was delivered in full. */
  complete: boolean;
  /** The seqs retention no longer held (inclusive), when `complete` is false. */
  gap: { from: number; to: number } | null;
}

export interface ChainBreak {
  topic: string;
  /** The seq the SDK expected as `prev` (its cursor). */
  expected: number;
  prev: number;
  seq: number;
}

export interface SubscriptionEvents {
  message: Message;
  recovered: Recovered;
  gap: ChainBreak;
  error: HawsError;
  join: Who;
  leave: Who;
  /** (haws) A counts-only topic's totals; with `members`, the topic is back to per-member mode. */
  counts: Counts & { members?: Member[] };
  /** The node confirmed the subscription (every connection); `seq` = the topic's last seq. */
  subscribed: { seq: number };
}

export interface SubscribeOptions {
  /** Where to start when the SDK holds no cursor for the topic: 0 = all retained history. */
  since?: number;
  /** Receive `join`/`leave` for this topic. */
  presence?: boolean;
}

export type Verdict = "deliver" | "duplicate" | "refill";

export interface SubscriptionOwner {
  unsubscribeTopic(sub: Subscription): Promise<void>;
  queryPresence(topic: string): Promise<PresenceAnswer>;
}

export class Subscription extends Emitter<SubscriptionEvents> {
  /** Seq of the last message delivered (or where delivery starts after). */
  cursor: number | null;
  active = true;
  /** The first message after `cursor` need not chain to it (a live-only start). */
  private loose: boolean;
  private refilledAt: number | null = null;

  constructor(
    private readonly owner: SubscriptionOwner,
    readonly topic: string,
    readonly options: SubscribeOptions,
    stored: number | undefined,
  ) {
    super();
    const since = options.since;
    this.cursor = stored ?? (since !== undefined && since > 0 ? since : null);
    this.loose = false;
  }

  /** Where the node should start: after the cursor, else the app's `since`, else live. */
  get since(): number | undefined {
    return this.cursor ?? this.options.since;
  }

  unsubscribe(): Promise<void> {
    return this.owner.unsubscribeTopic(this);
  }

  /** Who is on the topic now (one `presence` request). */
  members(): Promise<Member[]> {
    return this.presence().then((a) => a.members);
  }

  /** One `presence` request; on a counts-only topic `members` is a sample and `counts` the totals. */
  presence(): Promise<PresenceAnswer> {
    return this.owner.queryPresence(this.topic);
  }

  /** @internal the node answered `ok`. */
  confirm(seq: number): void {
    if (this.cursor === null) {
      // Live only: remember where we started, so a resume brings what was
      // published while we were away; the first message need not chain to it.
      this.cursor = seq;
      this.loose = true;
    }
    this.emit("subscribed", { seq });
  }

  /** @internal */
  check(frame: ServerFrame): Verdict {
    const seq = frame.seq ?? 0;
    const prev = frame.prev ?? 0;
    const cursor = this.cursor;
    if (cursor !== null && seq <= cursor) return "duplicate";
    if (cursor !== null && !this.loose && prev !== cursor) {
      if (this.refilledAt !== cursor) {
        this.refilledAt = cursor;
        return "refill";
      }
      this.emit("gap", { topic: this.topic, expected: cursor, prev, seq });
    }
    return "deliver";
  }

  /** @internal */
  deliver(frame: ServerFrame): void {
    this.cursor = frame.seq ?? 0;
    this.loose = false;
    this.refilledAt = null;
    const message: Message = {
      topic: this.topic,
      seq: this.cursor,
      prev: frame.prev ?? 0,
      ts: frame.ts ?? 0,
      data: frame.data ?? null,
    };
    if (typeof frame.from === "string") message.from = frame.from;
    if (frame.mid !== undefined) message.mid = frame.mid;
    if (frame.undeliverable) message.undeliverable = true;
    this.emit("message", message);
  }

  /** @internal */
  route(frame: ServerFrame): void {
    if (frame.op === "recovered") {
      const complete = frame.complete !== false;
      const gap = complete ? null : { from: Number(frame.from ?? 0), to: Number(frame.to ?? 0) };
      this.emit("recovered", { topic: this.topic, complete, gap });
    } else if ((frame.op === "join" || frame.op === "leave") && frame.who) {
      this.emit(frame.op, frame.who);
    } else if (frame.op === "counts") {
      const counts = { count: frame.count ?? 0, users: frame.users ?? 0 };
      this.emit("counts", frame.mode === "members" ? { ...counts, members: frame.members ?? [] } : counts);
    }
  }

  /** @internal the node dropped or refused the subscription. */
  fail(err: HawsError): void {
    this.active = false;
    this.emit("error", err);
  }
}
