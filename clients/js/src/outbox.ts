/**
 * Publishes waiting for their `ack`: sent at once while connected, re-sent
 * after every reconnect with the same `mid` (so the stream's duplicate window
 * stores each once), until acked or given up. Bounded by count and by age; the
 * age bound must stay inside the server's duplicate window, or a re-send after
 * it could store a message twice. Whatever leaves unacked is handed back to
 * the caller to report: nothing is dropped silently.
 */
import { HawsError } from "./errors.js";
import type { Json } from "./frames.js";

export interface PublishResult {
  seq: number;
  dup: boolean;
}

export interface Pending {
  id: number;
  topic: string;
  data: Json;
  mid: string;
  /** The encoded frame: every (re-)send writes exactly these bytes. */
  wire: string;
  queuedAt: number;
  resolve: (result: PublishResult) => void;
  reject: (err: HawsError) => void;
}

export interface OutboxLimits {
  /** Most publishes waiting at once (default 100). */
  maxSize: number;
  /** Oldest a waiting publish may get, in ms (default 60 s, at most the 120 s duplicate window). */
  maxAge: number;
}

export const DUPLICATE_WINDOW_MS = 120_000;

export type DropHandler = (entry: Pending, error: HawsError) => void;

export class Outbox {
  private readonly entries = new Map<number, Pending>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly limits: OutboxLimits,
    private readonly now: () => number,
    /** Told about every entry that leaves without an ack (its promise is rejected too). */
    private readonly dropped: DropHandler,
  ) {
    if (limits.maxSize < 1) throw new RangeError("outbox maxSize must be at least 1");
    if (!(limits.maxAge > 0) || limits.maxAge > DUPLICATE_WINDOW_MS) {
      throw new RangeError(`outbox maxAge must be in (0, ${DUPLICATE_WINDOW_MS}] ms`);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Queue `entry`; false (and reported `outbox_full`) when `maxSize` wait already. */
  add(entry: Pending): boolean {
    if (this.entries.size >= this.limits.maxSize) {
      const full = `${this.limits.maxSize} publishes already wait for an ack`;
      this.drop(entry, new HawsError("outbox_full", full, entry.topic));
      return false;
    }
    this.entries.set(entry.id, entry);
    this.arm();
    return true;
  }

  /** The entry for `id`, removed: it is answered or given up. */
  take(id: number): Pending | undefined {
    const entry = this.entries.get(id);
    this.entries.delete(id);
    this.arm();
    return entry;
  }

  /** Put an entry back at the end (a retryable error): same id, same mid. */
  requeue(entry: Pending): void {
    this.entries.set(entry.id, entry);
    this.arm();
  }

  has(entry: Pending): boolean {
    return this.entries.get(entry.id) === entry;
  }

  /** Everything still waiting, oldest first: what a new connection sends again. */
  waiting(): Pending[] {
    return [...this.entries.values()];
  }

  /** Report and forget the entries older than `maxAge`; a re-send of those could store twice. */
  expire(): void {
    const now = this.now();
    for (const entry of this.waiting()) {
      if (now - entry.queuedAt <= this.limits.maxAge) continue;
      this.entries.delete(entry.id);
      const why = `no ack within ${this.limits.maxAge} ms; it may or may not be stored (mid ${entry.mid})`;
      this.drop(entry, new HawsError("expired", why, entry.topic));
    }
    this.arm();
  }

  /** Report and forget everything (the client closed). */
  clear(error: HawsError): void {
    clearTimeout(this.timer);
    const all = this.waiting();
    this.entries.clear();
    for (const entry of all) this.drop(entry, error);
  }

  private drop(entry: Pending, error: HawsError): void {
    entry.reject(error);
    this.dropped(entry, error);
  }

  /** One timer, for the oldest entry's expiry. */
  private arm(): void {
    clearTimeout(this.timer);
    const first = this.entries.values().next();
    if (first.done) return;
    const due = first.value.queuedAt + this.limits.maxAge - this.now();
    this.timer = setTimeout(() => this.expire(), Math.max(0, due) + 1);
  }
}
