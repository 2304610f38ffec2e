/**
 * The page events that matter to a long-lived socket. Browsers give no
 * signal when a socket went half-open while the laptop slept, and back off
 * timers in hidden tabs; these events are the moments to check at once
 * instead of waiting for the next backoff step or a TCP timeout.
 */

export interface PageHooks {
  /** The network came back, the tab became visible, or the page left the back-forward cache. */
  wake(reason: string): void;
  offline(): void;
  /** The page goes into the back-forward cache (an open socket would keep it out). */
  freeze(): void;
}

export function watchPage(hooks: PageHooks): () => void {
  const win = globalThis as unknown as Partial<Window>;
  if (typeof win.addEventListener !== "function" || typeof document === "undefined") return () => {};
  const online = (): void => hooks.wake("online");
  const offline = (): void => hooks.offline();
  const visible = (): void => {
    if (document.visibilityState === "visible") hooks.wake("visible");
  };
  const pageshow = (e: PageTransitionEvent): void => {
    if (e.persisted) hooks.wake("pageshow");
  };
  const pagehide = (e: PageTransitionEvent): void => {
    if (e.persisted) hooks.freeze();
  };
  const add = win.addEventListener.bind(win);
  const remove = win.removeEventListener!.bind(win);
  add("online", online);
  add("offline", offline);
  add("pageshow", pageshow);
  add("pagehide", pagehide);
  document.addEventListener("visibilitychange", visible);
  return () => {
    remove("online", online);
    remove("offline", offline);
    remove("pageshow", pageshow);
    remove("pagehide", pagehide);
    document.removeEventListener("visibilitychange", visible);
  };
}

/** False only when the browser is sure it is offline. */
export function browserOnline(): boolean {
  const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
  return nav?.onLine !== false;
}
