/**
 * A member list kept from the `presence` snapshot plus `join`/`leave`.
 *
 * After every (re)subscription the helper asks for a snapshot; changes that
 * arrive before the answer are buffered and applied on top of it (the order
 * Phoenix's syncState/syncDiff use), so a join that raced the snapshot is not
 * lost and a leave that raced it does not leave a ghost behind.
 *
 * (haws) A large topic is counts-only: no join/leave, only `counts` with the
 * totals. Then `counts` holds them and `members` is the sample the last
 * snapshot gave; when the topic goes back to per-member mode its whole list
 * arrives and the helper rebuilds from it.
 */
import { Emitter } from "./emitter.js";
import type { Counts, Member, Who } from "./frames.js";
import type { Subscription } from "./subscription.js";

interface PresenceEvents {
  /** The whole list after any change. */
  change: Member[];
  join: Who;
  leave: Who;
  /** (haws) New totals of a counts-only topic. */
  counts: Counts;
}

type Diff = ["join" | "leave", Who] | ["counts", Counts & { members?: Member[] }];

export class Presence extends Emitter<PresenceEvents> {
  private readonly state = new Map<string, Member>();
  private pending: Diff[] | null = null;
  private epoch = 0;
  private readonly detach: Array<() => void>;
  /** (haws) The totals while the topic is counts-only (`members` is then a sample); else null. */
  counts: Counts | null = null;

  constructor(private readonly sub: Subscription) {
    super();
    this.detach = [
      sub.on("subscribed", () => void this.sync()),
      sub.on("join", (who) => this.diff(["join", who])),
      sub.on("leave", (who) => this.diff(["leave", who])),
      sub.on("counts", (counts) => this.diff(["counts", counts])),
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
    let answer;
    try {
      answer = await this.sub.presence();
    } catch {
      if (epoch === this.epoch) this.flush(); // keep what we had, apply what came
      return;
    }
    if (epoch === this.epoch) this.flush(answer.members, answer.counts);
  }

  private flush(snapshot?: Member[], counts?: Counts | undefined): void {
    const diffs = this.pending ?? [];
    this.pending = null;
    if (snapshot) this.reset(snapshot, counts);
    for (const diff of diffs) this.apply(diff);
    this.emit("change", this.members);
  }

  /** Replace the list; join/leave only between two whole lists (a sample's churn is not real). */
  private reset(snapshot: Member[], counts?: Counts | undefined): void {
    const fresh = new Map(snapshot.map((m) => [m.session, m] as const));
    if (!counts && !this.counts) {
      for (const [session, member] of this.state) if (!fresh.has(session)) this.emit("leave", member);
      for (const [session, member] of fresh) if (!this.state.has(session)) this.emit("join", member);
    }
    this.state.clear();
    for (const [session, member] of fresh) this.state.set(session, member);
    this.counts = counts ?? null;
    if (counts) this.emit("counts", counts);
  }

  private diff(diff: Diff): void {
    if (this.pending) {
      this.pending.push(diff);
      return;
    }
    this.apply(diff);
    this.emit("change", this.members);
  }

  private apply(diff: Diff): void {
    if (diff[0] === "counts") {
      const { members, ...counts } = diff[1];
      if (members) return this.reset(members);
      this.counts = counts;
      this.emit("counts", counts);
      return;
    }
    const [kind, who] = diff;
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
