/**
 * The client's options, their defaults, and the checks that refuse a setting
 * which would break a promise (an outbox age beyond the duplicate window could
 * store a re-sent publish twice).
 */
import type { SocketFactory } from "./connection.js";
import { DUPLICATE_WINDOW_MS } from "./outbox.js";
import type { KeyValueStore } from "./storage.js";
import type { TokenGetter } from "./token.js";

export interface ClientOptions {
  /** Called for a token before connecting and before the current one expires; one call at a time. */
  getToken?: TokenGetter;
  /** sessionStorage key of the resume state (default `"haws"`); give each client in a tab its own. */
  storageKey?: string;
  /** Where the resume state lives (default `sessionStorage`; `null`: memory only). */
  storage?: KeyValueStore | null;
  /** Full-jitter backoff base and cap, ms (defaults 500 and 20000). */
  backoffBase?: number;
  backoffCap?: number;
  /** Add the nodes from `GET /v1/gateways` to the endpoints (default true). */
  discover?: boolean;
  /** Outbox limits: publishes waiting for an ack (default 100), and their age in ms (default 60000). */
  outboxSize?: number;
  outboxMaxAge?: number;
  /** The node's frame limit (default 65536): larger publishes are refused before sending. */
  maxFrameBytes?: number;
  /** ms for open + `welcome` (default 10000). */
  connectTimeout?: number;
  /** Application ping every `pingInterval` ms (default: the server's heartbeat); dead after `pongTimeout` (default 5000). */
  pingInterval?: number;
  pongTimeout?: number;
  /** Refresh the token this long before its `exp` (default 30000 ms, at most half its remaining life). */
  refreshMargin?: number;
  /** ms for the HTTP requests (gateway list, handshake diagnosis); default 5000. */
  requestTimeout?: number;
  /** React to page lifecycle events (default true in a browser). */
  lifecycle?: boolean;
  WebSocket?: SocketFactory;
  fetch?: typeof fetch;
  random?: () => number;
  now?: () => number;
}

/** Every option with its default applied (the injected objects stay optional). */
export interface Settings {
  backoffBase: number;
  backoffCap: number;
  discover: boolean;
  outboxSize: number;
  outboxMaxAge: number;
  maxFrameBytes: number;
  connectTimeout: number;
  pingInterval: number | undefined;
  pongTimeout: number;
  refreshMargin: number;
  requestTimeout: number;
  lifecycle: boolean;
  random: () => number;
  now: () => number;
}

export function settings(o: ClientOptions): Settings {
  const s: Settings = {
    backoffBase: o.backoffBase ?? 500,
    backoffCap: o.backoffCap ?? 20_000,
    discover: o.discover ?? true,
    outboxSize: o.outboxSize ?? 100,
    outboxMaxAge: o.outboxMaxAge ?? 60_000,
    maxFrameBytes: o.maxFrameBytes ?? 65_536,
    connectTimeout: o.connectTimeout ?? 10_000,
    pingInterval: o.pingInterval,
    pongTimeout: o.pongTimeout ?? 5_000,
    refreshMargin: o.refreshMargin ?? 30_000,
    requestTimeout: o.requestTimeout ?? 5_000,
    lifecycle: o.lifecycle ?? true,
    random: o.random ?? Math.random,
    now: o.now ?? Date.now,
  };
  if (s.outboxMaxAge > DUPLICATE_WINDOW_MS) {
    throw new RangeError(`outboxMaxAge may not exceed the ${DUPLICATE_WINDOW_MS} ms duplicate window`);
  }
  return s;
}
