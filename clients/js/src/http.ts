/**
 * The two plain HTTP questions a browser client asks a gateway: which nodes
 * exist (`GET /v1/gateways`), and why a handshake never opened (`GET /ws`:
 * a browser reports a refused upgrade only as close 1006). Both are readable
 * cross-origin (the gateway sends `Access-Control-Allow-Origin: *`). Every
 * request has a timeout; any failure is an answer ("don't know"), never a throw.
 */
import { type GatewayNode, httpUrl } from "./endpoints.js";

async function get(fetcher: typeof fetch, url: string, timeout: number): Promise<Response | null> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeout);
  try {
    return await fetcher(url, { signal: abort.signal, cache: "no-store" });
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

export async function gateways(
  fetcher: typeof fetch | undefined,
  wsUrl: string,
  timeout: number,
): Promise<GatewayNode[] | null> {
  const res = fetcher ? await get(fetcher, httpUrl(wsUrl, "/v1/gateways"), timeout) : null;
  try {
    const body: unknown = res?.ok ? await res.json() : null;
    if (!Array.isArray(body)) return null;
    return body.filter((n): n is GatewayNode => typeof n?.url === "string" && typeof n?.node === "string");
  } catch {
    return null;
  }
}

/**
 * 403: this page's origin is not allowed (final); 503/429: the node's
 * `Retry-After` in ms (at most `cap`); 0 for anything else, network trouble
 * included. Only in a page: elsewhere the handshake's own error says more.
 */
export async function diagnose(
  fetcher: typeof fetch | undefined,
  wsUrl: string,
  timeout: number,
  cap: number,
): Promise<"origin" | number> {
  if (!fetcher || typeof document === "undefined") return 0;
  const res = await get(fetcher, httpUrl(wsUrl, "/ws"), timeout);
  if (res?.status === 403) return "origin";
  if (res?.status === 503 || res?.status === 429) {
    const seconds = Number(res.headers.get("Retry-After"));
    return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, cap) : 0;
  }
  return 0;
}
