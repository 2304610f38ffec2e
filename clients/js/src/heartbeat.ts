/**
 * Application-level ping with wall-clock checks, to find a half-open socket
 * from the client's side. Browsers throttle timers in hidden tabs and freeze
 * them during sleep, so a timer that fires long after it was due says "we were
 * asleep" rather than "the server is silent": then the SDK pings again with a
 * fresh deadline instead of declaring the connection dead on stale evidence.
 */
export class Heartbeat {
  private tickTimer: ReturnType<typeof setTimeout> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private sentAt = 0;

  constructor(
    /** ms between pings; the client sets it from the server's `heartbeat`. */
    public interval: number,
    private readonly timeout: number,
    private readonly now: () => number,
    private readonly ping: () => void,
    private readonly dead: (reason: string) => void,
  ) {}

  start(): void {
    this.stop();
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.tickTimer);
    clearTimeout(this.pongTimer);
    this.tickTimer = this.pongTimer = undefined;
  }

  /** Ping now (the tab woke up, the network changed) unless a ping is already out. */
  check(): void {
    if (this.pongTimer === undefined) this.send();
  }

  pong(): void {
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }

  private schedule(): void {
    const due = this.now() + this.interval;
    this.tickTimer = setTimeout(() => {
      // Late by much more than a timer's usual slack: the tab slept; check at once.
      if (this.now() - due > this.interval) this.pong();
      this.check();
      this.schedule();
    }, this.interval);
  }

  private send(): void {
    this.sentAt = this.now();
    this.ping();
    this.pongTimer = setTimeout(() => {
      this.pongTimer = undefined;
      if (this.now() - this.sentAt > this.timeout * 3) this.send(); // we were frozen, not the server
      else this.dead("no pong");
    }, this.timeout);
  }
}
