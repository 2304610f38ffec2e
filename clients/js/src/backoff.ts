/**
 * Exponential backoff with full jitter: a uniformly random wait in
 * [0, min(cap, base * 2^attempt)]. The randomness spreads a whole fleet of
 * tabs that lost the same node over the window instead of sending them back
 * in one synchronised wave (the reconnect storm).
 */
export class Backoff {
  attempt = 0;

  constructor(
    readonly base: number,
    readonly cap: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(base > 0) || cap < base) throw new RangeError("backoff needs 0 < base <= cap");
  }

  /** The ceiling of the next wait, without consuming an attempt. */
  ceiling(): number {
    return Math.min(this.cap, this.base * 2 ** Math.min(this.attempt, 40));
  }

  next(): number {
    const delay = this.random() * this.ceiling();
    this.attempt++;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
