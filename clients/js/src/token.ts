/**
 * The app's `getToken()` behind one rule: at most one call in flight. A page
 * whose socket drops while a scheduled refresh is running must not ask the
 * auth backend twice (and end up using the older of two tokens).
 */

export type TokenGetter = () => string | null | undefined | Promise<string | null | undefined>;

/** `exp` (seconds since the epoch) of a JWT, or null for anything else; never verified here. */
export function tokenExpiry(token: string): number | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const exp: unknown = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp : null;
  } catch {
    return null;
  }
}

export class TokenSource {
  private inflight: Promise<string | null> | null = null;
  current: string | null = null;

  constructor(private readonly getter: TokenGetter | undefined) {}

  /** A call is running: whoever needs a token now should wait for that one. */
  get busy(): boolean {
    return this.inflight !== null;
  }

  get enabled(): boolean {
    return this.getter !== undefined;
  }

  /** A fresh token from the app; concurrent callers share one call. */
  fetch(): Promise<string | null> {
    if (!this.getter) return Promise.resolve(null);
    const getter = this.getter;
    this.inflight ??= (async () => {
      try {
        this.current = (await getter()) ?? null;
        return this.current;
      } finally {
        this.inflight = null;
      }
    })();
    return this.inflight;
  }
}
