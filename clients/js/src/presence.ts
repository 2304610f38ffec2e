/**
 * A member list kept from the `presence` snapshot plus `join`/`leave`.
 *
 * After every (re)subscription the helper asks for a snapshot; changes that
 * arrive before the answer are buffered and applied on top of it (the order
 * Phoenix's syncState/syncDiff use), so a join that raced the snapshot is not
 * lost and a leave that raced it does not leave a ghost behind.
 */
import { Emitter } from "./emitter.js";
import type { Member, Who } from "./frames.js";
import type { Subscription } from "./subscription.js";

interface PresenceEvents {
  /** The whole list after any change. */
  change: Member[];
  join: Who;
  leave: Who;
}

type Diff = ["join" | "leave", Who];

export class Presence extends Emitter<PresenceEvents> {
  private readonly state = new Map<string, Member>();
  private pending: Diff[] | null = null;
  private epoch = 0;
  private readonly detach: Array<() => void>;

  constructor(private readonly sub: Subscription) {
    super();
    this.detach = [
      sub.on("subscribed", () => void this.sync()),
      sub.on("join", (who) => this.diff(["join", who])),
      sub.on("leave", (who) => this.diff(["leave", who])),
    ];
  }

  get members(): Member[] {
    return [...this.state.values()];
  }

  stop(): void {
    for (const off of this.detach) off();
  }

  /** Fetch a snapshot now; diffs wait until it is in. */
  async sync(): Promise<void> {
    const epoch = ++this.epoch;
    this.pending ??= [];
    let members: Member[];
    try {
      members = await this.sub.members();
    } catch {
      if (epoch === this.epoch) this.flush(null); // keep what we had, apply what came
      return;
    }
    if (epoch === this.epoch) this.flush(members);
  }

  private flush(snapshot: Member[] | null): void {
    const diffs = this.pending ?? [];
    this.pending = null;
    if (snapshot) {
      const fresh = new Map(snapshot.map((m) => [m.session, m] as const));
      for (const [session, member] of this.state) {
        if (!fresh.has(session)) this.emit("leave", member);
      }
      for (const [session, member] of fresh) {
        if (!this.state.has(session)) this.emit("join", member);
      }
      this.state.clear();
      for (const [session, member] of fresh) this.state.set(session, member);
    }
    for (const diff of diffs) this.apply(diff);
    this.emit("change", this.members);
  }

  private diff(diff: Diff): void {
    if (this.pending) {
      this.pending.push(diff);
      return;
    }
    this.apply(diff);
    this.emit("change", this.members);
  }

  private apply([kind, who]: Diff): void {
    const known = this.state.has(who.session);
    if (kind === "join" && !known) {
      this.state.set(who.session, { ...who });
      this.emit("join", who);
    } else if (kind === "leave" && known) {
      this.state.delete(who.session);
      this.emit("leave", who);
    }
  }
}
