/**
 * The resume state (session id and per-topic cursors) kept in `sessionStorage`,
 * so a reload of the tab resumes within the session TTL. sessionStorage, not
 * localStorage: it is per tab, and two tabs must not share one session (the
 * second would take the first over with 4009). Writes are coalesced to one per
 * task, so a history replay of a thousand messages costs one write.
 */

export interface ResumeState {
  session?: string;
  cursors: Record<string, number>;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function defaultStore(): KeyValueStore | null {
  try {
    return (globalThis as { sessionStorage?: KeyValueStore }).sessionStorage ?? null;
  } catch {
    return null; // storage blocked (some privacy modes throw on access)
  }
}

export class ResumeStore {
  private pending = false;
  /** After `clear()` (the client closed, or lost its session for good) nothing is written again. */
  private cleared = false;

  constructor(
    private readonly store: KeyValueStore | null,
    private readonly key: string,
  ) {}

  load(): ResumeState {
    try {
      const raw = this.store?.getItem(this.key);
      const parsed: unknown = raw ? JSON.parse(raw) : null;
      if (parsed && typeof parsed === "object") {
        const { session, cursors } = parsed as Partial<ResumeState>;
        const clean: Record<string, number> = {};
        for (const [topic, seq] of Object.entries(cursors ?? {})) {
          if (Number.isSafeInteger(seq) && seq >= 0) clean[topic] = seq;
        }
        return typeof session === "string" ? { session, cursors: clean } : { cursors: clean };
      }
    } catch {
      // a corrupt entry is as good as none
    }
    return { cursors: {} };
  }

  /** Schedule a write of `read()`'s value at the end of this task. */
  save(read: () => ResumeState): void {
    if (this.pending || this.cleared || !this.store) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      this.write(read());
    });
  }

  write(state: ResumeState): void {
    if (this.cleared) return;
    try {
      this.store?.setItem(this.key, JSON.stringify(state));
    } catch {
      // quota or privacy mode: resume still works from memory
    }
  }

  clear(): void {
    this.cleared = true;
    try {
      this.store?.removeItem(this.key);
    } catch {
      // nothing to clear
    }
  }
}
