/**
 * Which gateway to try next. Seeds (what the app gave, perhaps a load
 * balancer) are never forgotten; nodes from `GET /v1/gateways` are replaced by
 * each refresh, so a dead or drained node drops out. Picks go round-robin,
 * with the node that just failed (or asked us to move) last.
 */

export interface GatewayNode {
  node: string;
  url: string;
  connections: number;
}

/** ws://h:p/prefix/ws -> http://h:p/prefix + path (a proxy's mount point is kept). */
export function httpUrl(wsUrl: string, path: string): string {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  const prefix = url.pathname.endsWith("/ws") ? url.pathname.slice(0, -3) : "";
  url.pathname = prefix + path;
  url.search = "";
  url.hash = "";
  return url.toString();
}

function wsUrls(urls: readonly string[]): string[] {
  return [...new Set(urls.filter((u) => /^wss?:\/\//i.test(u)))];
}

export class Endpoints {
  private readonly seeds: string[];
  private discovered: string[] = [];
  private last = -1;

  constructor(seeds: string | readonly string[]) {
    const list = typeof seeds === "string" ? [seeds] : seeds;
    this.seeds = wsUrls(list);
    if (!this.seeds.length || this.seeds.length !== list.length) {
      throw new TypeError("endpoints must be one or more ws:// or wss:// URLs");
    }
  }

  get urls(): string[] {
    return [...this.seeds, ...this.discovered.filter((u) => !this.seeds.includes(u))];
  }

  update(discovered: readonly string[]): void {
    this.discovered = wsUrls(discovered);
  }

  /** The next URL round-robin, skipping those in `avoid` unless nothing else is left. */
  pick(avoid: readonly string[] = []): string {
    const urls = this.urls;
    let index = (this.last + 1) % urls.length;
    for (let i = 0; i < urls.length && avoid.includes(urls[index] as string); i++) {
      index = (index + 1) % urls.length;
    }
    if (avoid.includes(urls[index] as string)) index = (this.last + 1) % urls.length;
    this.last = index;
    return urls[index] as string;
  }
}
