// A fake WebSocket and helpers: the tests play the server, frame by frame.
import { Client } from "../dist/esm/index.js";

export class FakeSocket {
  static all = [];
  readyState = 0;
  sent = [];
  closedWith = null;
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;

  constructor(url, protocol) {
    this.url = url;
    this.protocol = protocol;
    FakeSocket.all.push(this);
  }

  static get last() {
    return FakeSocket.all.at(-1);
  }

  static reset() {
    FakeSocket.all = [];
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close(code, reason) {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  // --- the server's side ---
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }

  frame(obj) {
    this.onmessage?.({ data: typeof obj === "string" ? obj : JSON.stringify(obj) });
  }

  welcome(extra = {}) {
    this.frame({ op: "welcome", session: "s1", node: "gw-1", resumed: false, heartbeat: 10, ttl: 3600, ...extra });
  }

  serverClose(code, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  ops(op) {
    return this.sent.filter((f) => f.op === op);
  }
}

export class MemoryStorage {
  items = new Map();
  getItem(k) {
    return this.items.has(k) ? this.items.get(k) : null;
  }
  setItem(k, v) {
    this.items.set(k, String(v));
  }
  removeItem(k) {
    this.items.delete(k);
  }
}

/** Let pending promise callbacks and microtasks run. */
export async function settle(rounds = 5) {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

export function makeClient(options = {}, urls = "ws://gw.test/ws") {
  FakeSocket.reset();
  return new Client(urls, {
    WebSocket: FakeSocket,
    storage: null,
    discover: false,
    lifecycle: false,
    random: () => 1,
    ...options,
  });
}

/** connect() and play the handshake up to `welcome`. */
export async function connected(client, welcome = {}) {
  const done = client.connect();
  await settle();
  const ws = FakeSocket.last;
  ws.open();
  ws.welcome(welcome);
  await done;
  return ws;
}

export function msg(topic, seq, prev, data = seq) {
  return { op: "msg", topic, seq, prev, ts: 1, data };
}

export function jwt(payload) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "HS256" })}.${b64(payload)}.sig`;
}
