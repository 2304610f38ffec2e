/**
 * One WebSocket, from `new WebSocket` to its close, reported exactly once.
 *
 * `drop()` reports the close at once instead of waiting for the browser's
 * closing handshake: on a half-open socket (a tab that slept, a dead node
 * behind a proxy) that handshake can take minutes, and the client must be
 * reconnecting meanwhile. Events of a socket that was dropped are ignored.
 */
import { decode, type ServerFrame } from "./frames.js";

export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = new (url: string, protocols?: string | string[]) => SocketLike;

export const SUBPROTOCOL = "haws.v1.json";
const OPEN = 1;
/** What the SDK reports for a socket it gave up on itself (never sent on the wire). */
export const DROPPED = 4999;

export interface ConnectionEvents {
  open(): void;
  frames(frames: ServerFrame[]): void;
  /** A message the SDK cannot parse: the connection is closed with 4002, as the server would. */
  unparseable(error: Error): void;
  close(code: number, reason: string, opened: boolean): void;
}

export class Connection {
  opened = false;
  closed = false;
  private readonly ws: SocketLike;

  constructor(
    readonly url: string,
    factory: SocketFactory,
    private readonly events: ConnectionEvents,
  ) {
    const ws = (this.ws = new factory(url, SUBPROTOCOL));
    ws.onopen = () => {
      if (this.closed) return;
      this.opened = true;
      events.open();
    };
    ws.onmessage = (ev) => {
      if (this.closed) return;
      if (typeof ev.data !== "string") {
        this.unparseable(new TypeError("binary frame on a haws.v1.json connection"));
        return;
      }
      let frames: ServerFrame[];
      try {
        frames = decode(ev.data);
      } catch (err) {
        this.unparseable(err as Error);
        return;
      }
      events.frames(frames);
    };
    ws.onclose = (ev) => this.finish(ev.code, ev.reason);
    ws.onerror = () => {}; // the close event that follows says everything a browser tells
  }

  send(text: string): boolean {
    if (this.closed || this.ws.readyState !== OPEN) return false;
    this.ws.send(text);
    return true;
  }

  /** Close and report now; `code` is what the server is told (1000 or 4000-4999). */
  drop(reason: string, code = 1000, reported = DROPPED): void {
    try {
      this.ws.close(code, reason);
    } catch {
      // already closing
    }
    this.finish(reported, reason);
  }

  private unparseable(error: Error): void {
    this.events.unparseable(error);
    this.drop("unparseable frame", 4002, 4002);
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.events.close(code, reason, this.opened);
  }
}
