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

export class Outbox {
  private readonly entries = new Map<number, Pending>();

  constructor(readonly limits: OutboxLimits) {
    if (limits.maxSize < 1) throw new RangeError("outbox maxSize must be at least 1");
    if (!(limits.maxAge > 0) || limits.maxAge > DUPLICATE_WINDOW_MS) {
      throw new RangeError(`outbox maxAge must be in (0, ${DUPLICATE_WINDOW_MS}] ms`);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  add(entry: Pending): void {
    if (this.entries.size >= this.limits.maxSize) {
      throw new HawsError("outbox_full", `${this.limits.maxSize} publishes already wait for an ack`, entry.topic);
    }
    this.entries.set(entry.id, entry);
  }

  /** The entry for `id`, removed: it is answered or given up. */
  take(id: number): Pending | undefined {
    const entry = this.entries.get(id);
    this.entries.delete(id);
    return entry;
  }

  /** Everything still waiting, oldest first: what a new connection sends again. */
  waiting(): Pending[] {
    return [...this.entries.values()];
  }

  /** Remove and return the entries older than `maxAge` at `now`. */
  expire(now: number): Pending[] {
    const old = this.waiting().filter((e) => now - e.queuedAt > this.limits.maxAge);
    for (const entry of old) this.entries.delete(entry.id);
    return old;
  }

  /** When the oldest entry expires (ms since the epoch), or null when empty. */
  nextExpiry(): number | null {
    const first = this.entries.values().next();
    return first.done ? null : first.value.queuedAt + this.limits.maxAge;
  }

  clear(): Pending[] {
    const all = this.waiting();
    this.entries.clear();
    return all;
  }
}
