/**
 * Keeps the connection's token fresh: asks the app for a new one before the
 * current one's `exp` and sends it over the open socket with `refresh`, so a
 * token change never costs a reconnect. A failed attempt is reported and tried
 * again a few seconds later; the server's 4001 after `exp` plus grace is the
 * backstop the client handles by reconnecting with a fresh token.
 */
import { HawsError } from "./errors.js";
import type { ServerFrame } from "./frames.js";
import { type TokenSource, tokenExpiry } from "./token.js";

const RETRY_S = 4;

export class Refresher {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;

  constructor(
    private readonly tokens: TokenSource,
    private readonly opts: { now: () => number; refreshMargin: number },
    private readonly send: (token: string) => Promise<ServerFrame>,
    private readonly report: (err: HawsError) => void,
  ) {}

  /** A token that is gone within a second is not worth a handshake. */
  expiresSoon(token: string): boolean {
    const exp = tokenExpiry(token);
    return exp !== null && exp * 1000 - this.opts.now() < 1000;
  }

  /** The connection is up: schedule from the current token's `exp`. */
  start(): void {
    this.running = true;
    this.schedule(this.tokens.current ? tokenExpiry(this.tokens.current) : null);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  private schedule(exp: number | null): void {
    clearTimeout(this.timer);
    if (exp === null || !this.tokens.enabled || !this.running) return;
    const left = exp * 1000 - this.opts.now();
    const wait = Math.max(1000, left - Math.min(this.opts.refreshMargin, left / 2));
    this.timer = setTimeout(() => void this.refresh(), wait);
  }

  private retryLater(): void {
    this.schedule(this.opts.now() / 1000 + RETRY_S);
  }

  private async refresh(): Promise<void> {
    let token: string | null;
    try {
      token = await this.tokens.fetch();
    } catch (err) {
      this.report(new HawsError("token", `getToken failed: ${String(err)}`));
      return this.retryLater();
    }
    if (!token || !this.running) return;
    try {
      const reply = await this.send(token);
      this.schedule(reply.exp ?? tokenExpiry(token));
    } catch (err) {
      if ((err as HawsError).code === "disconnected") return;
      this.tokens.current = null;
      this.report(err as HawsError);
      this.retryLater();
    }
  }
}
