/**
 * The haws client: one logical connection to a cluster, kept alive across
 * node deaths, network loss, tab sleep and reloads.
 *
 * States: `disconnected` (not started, `disconnect()`ed, or the browser is
 * offline), `connecting` (an attempt, or the wait before the next one),
 * `connected` (after `welcome`), `closed` (final: `close()`, or a close code
 * after which reconnecting makes no sense; `reconnect: false` says so).
 * Everything the SDK gives up on (a publish, a subscription, a hole in a
 * topic) is reported with an event or a rejected promise, never dropped.
 */
import { Backoff } from "./backoff.js";
import { closeRule } from "./closecodes.js";
import { Connection, DROPPED, type SocketFactory } from "./connection.js";
import { Emitter } from "./emitter.js";
import { type GatewayNode, Endpoints } from "./endpoints.js";
import { HawsError } from "./errors.js";
import { type ClientFrame, type Json, type PresenceAnswer, type ServerFrame, byteLength, checkTopic, encode } from "./frames.js";
import { Heartbeat } from "./heartbeat.js";
import { diagnose, gateways } from "./http.js";
import { browserOnline, watchPage } from "./lifecycle.js";
import { type ClientOptions, type Settings, settings } from "./options.js";
import { Outbox, type Pending, type PublishResult } from "./outbox.js";
import { Refresher } from "./refresher.js";
import { type ResumeState, ResumeStore, defaultStore } from "./storage.js";
import { type SubscribeOptions, Subscription } from "./subscription.js";
import { TokenSource } from "./token.js";

export type { ClientOptions } from "./options.js";

export type State = "disconnected" | "connecting" | "connected" | "closed";

export interface StateChange {
  state: State;
  previous: State;
  /** Why: `client`, `offline`, `closed 1006`, `drain`, `origin_refused`, ... */
  reason: string;
  /** The close code that caused it, when there was one. */
  code?: number;
  /** For `connecting`: ms until the attempt; for `closed`: whether reconnecting could work. */
  delay?: number;
  reconnect?: boolean;
  /** `connecting` after having been connected: the app should say "reconnecting...". */
  reconnecting?: boolean;
  error?: HawsError;
}

export interface Welcome {
  session: string;
  node: string;
  resumed: boolean;
  heartbeat: number;
  ttl: number;
  url: string;
}

export interface Dropped {
  topic: string;
  data: Json;
  mid: string;
  error: HawsError;
}

export interface ClientEvents {
  state: StateChange;
  welcome: Welcome;
  /** Problems reported but survived: an unparseable frame, a failed refresh, a server error. */
  error: HawsError;
  /** The healthy nodes from `GET /v1/gateways`, after each refresh. */
  nodes: GatewayNode[];
  /** A publish that left the outbox without an ack. */
  dropped: Dropped;
}

type Reply = { resolve: (frame: ServerFrame) => void; reject: (err: HawsError) => void };

const RETRYABLE = new Set(["unavailable", "rate_limited", "internal"]);

export class Client extends Emitter<ClientEvents> {
  state: State = "disconnected";
  session: string | undefined;
  /** The node of the current connection (from `welcome`). */
  node: string | undefined;
  nodes: GatewayNode[] = [];
  readonly endpoints: Endpoints;

  private readonly opts: Settings;
  private readonly factory: SocketFactory | undefined;
  private readonly fetcher: typeof fetch | undefined;
  private readonly backoff: Backoff;
  private readonly tokens: TokenSource;
  private readonly store: ResumeStore;
  private readonly stored: Record<string, number>;
  private readonly subs = new Map<string, Subscription>();
  private readonly replies = new Map<number, Reply>();
  private readonly outbox: Outbox;
  private readonly heartbeat: Heartbeat;
  private readonly refresher: Refresher;
  private conn: Connection | null = null;
  private wanted = false;
  private welcomed = false;
  private everConnected = false;
  private authFailures = 0;
  private nextId = 1;
  private mids = 0;
  private readonly midPrefix: string;
  private move: { delay: number; reason: string } | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private avoid: string[] = [];
  private readonly unwatch: () => void;

  constructor(endpoints: string | readonly string[], options: ClientOptions = {}) {
    super();
    this.endpoints = new Endpoints(endpoints);
    const o = options;
    this.opts = settings(o);
    this.factory = o.WebSocket ?? (globalThis as { WebSocket?: SocketFactory }).WebSocket;
    this.fetcher = o.fetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined);
    this.backoff = new Backoff(this.opts.backoffBase, this.opts.backoffCap, this.opts.random);
    this.tokens = new TokenSource(o.getToken);
    this.outbox = new Outbox({ maxSize: this.opts.outboxSize, maxAge: this.opts.outboxMaxAge }, this.opts.now, (e, error) =>
      this.emit("dropped", { topic: e.topic, data: e.data, mid: e.mid, error }),
    );
    this.store = new ResumeStore(o.storage === undefined ? defaultStore() : o.storage, o.storageKey ?? "haws");
    const resume = this.store.load();
    this.session = resume.session;
    this.stored = resume.cursors;
    this.midPrefix = Math.floor(this.opts.random() * 2 ** 48).toString(36);
    this.heartbeat = new Heartbeat(
      this.opts.pingInterval ?? 10_000,
      this.opts.pongTimeout,
      this.opts.now,
      () => this.conn?.send(encode({ op: "ping", id: this.nextId++ })),
      (reason) => this.conn?.drop(reason),
    );
    this.refresher = new Refresher(
      this.tokens,
      this.opts,
      (token) => this.request({ op: "refresh", token }),
      (err) => this.emit("error", err),
    );
    this.unwatch = this.opts.lifecycle
      ? watchPage({
          wake: (reason) => this.wake(reason),
          offline: () => this.offline(),
          freeze: () => this.pause("pagehide"),
        })
      : () => {};
  }

  // ---- the app's API -------------------------------------------------------

  /** Start (or resume after `disconnect()`); resolves when connected, rejects when closed. */
  connect(): Promise<void> {
    if (this.state === "closed") return Promise.reject(new HawsError("closed", "the client is closed"));
    const settled = new Promise<void>((resolve, reject) => {
      if (this.state === "connected") return resolve();
      const off = this.on("state", (s) => {
        if (s.state === "connected") resolve();
        else if (s.state === "closed") reject(s.error ?? new HawsError("closed", s.reason));
        else return;
        off();
      });
    });
    if (!this.wanted) {
      this.wanted = true;
      this.backoff.reset();
      this.attempt();
    }
    return settled;
  }

  /** Drop the connection; the session, subscriptions and outbox stay for `connect()`. */
  disconnect(): void {
    if (this.state === "closed") return;
    this.pause("client");
  }

  /** Final: leave the session (it times out on the server), fail what waits, stop listening. */
  close(): void {
    if (this.state === "closed") return;
    this.finish("client", new HawsError("closed", "closed by the app"), 1000);
    this.store.clear();
  }

  subscribe(topic: string, options: SubscribeOptions = {}): Subscription {
    checkTopic(topic);
    let sub = this.subs.get(topic);
    if (sub) return sub;
    sub = new Subscription(this, topic, options, this.stored[topic]);
    this.subs.set(topic, sub);
    if (this.welcomed) this.sendSub(sub);
    this.save();
    return sub;
  }

  /** Publish once: an automatic `mid`, kept across reconnects until `ack`. */
  publish(topic: string, data: Json, options: { mid?: string } = {}): Promise<PublishResult> {
    return new Promise((resolve, reject) => {
      if (this.state === "closed") throw new HawsError("closed", "the client is closed", topic);
      checkTopic(topic);
      const id = this.nextId++;
      const mid = options.mid ?? `${this.midPrefix}-${++this.mids}`;
      const wire = encode({ op: "pub", id, topic, data, mid });
      const size = byteLength(wire);
      if (size > this.opts.maxFrameBytes) {
        throw new HawsError("too_large", `publish of ${size} bytes is over the ${this.opts.maxFrameBytes}-byte frame limit`, topic);
      }
      const entry: Pending = { id, topic, data, mid, wire, queuedAt: this.opts.now(), resolve, reject };
      if (this.outbox.add(entry) && this.welcomed) this.conn?.send(wire);
    });
  }

  /** Who is on `topic` now; on a counts-only topic a sample, with the totals. */
  queryPresence(topic: string): Promise<PresenceAnswer> {
    return this.request({ op: "presence", topic }).then((f) => ({
      members: f.members ?? [],
      counts: f.sample ? { count: f.count ?? 0, users: f.users ?? 0 } : undefined,
    }));
  }

  /** Publishes waiting for their ack. */
  get pending(): number {
    return this.outbox.size;
  }

  // ---- called by Subscription ------------------------------------------------

  async unsubscribeTopic(sub: Subscription): Promise<void> {
    if (this.subs.get(sub.topic) !== sub) return;
    this.subs.delete(sub.topic);
    delete this.stored[sub.topic];
    sub.active = false;
    this.save();
    if (!this.welcomed) return;
    try {
      await this.request({ op: "unsub", topic: sub.topic });
    } catch (err) {
      if ((err as HawsError).code !== "not_found") throw err;
    }
  }

  // ---- connection lifecycle --------------------------------------------------

  private setState(state: State, change: Omit<StateChange, "state" | "previous">): void {
    const previous = this.state;
    this.state = state;
    this.emit("state", { state, previous, ...change });
  }

  private async attempt(): Promise<void> {
    clearTimeout(this.retryTimer);
    if (!this.wanted || this.conn || this.state === "closed") return;
    if (!browserOnline()) return this.offline();
    if (this.state !== "connecting") this.setState("connecting", { reason: "connect", reconnecting: this.everConnected });
    const factory = this.factory;
    if (!factory) return this.finish("no_websocket", new HawsError("no_websocket", "no WebSocket implementation; pass options.WebSocket"), 1000);
    const url = this.endpoints.pick(this.avoid);
    let token: string | null = this.tokens.current;
    if (this.tokens.enabled && (this.tokens.busy || !token || this.refresher.expiresSoon(token))) {
      try {
        token = await this.tokens.fetch();
      } catch (err) {
        this.emit("error", new HawsError("token", `getToken failed: ${String(err)}`));
        return this.retry("token", undefined, [url]);
      }
      if (!this.wanted || this.conn || this.state !== "connecting") return;
    }
    const conn = (this.conn = new Connection(url, factory, {
      open: () => {
        const hello: ClientFrame = { op: "hello", v: 1, batch: true };
        if (token) hello.token = token;
        if (this.session) hello.session = this.session;
        const cursors = this.cursors();
        if (Object.keys(cursors).length) hello.cursors = cursors;
        conn.send(encode(hello));
      },
      frames: (frames) => {
        for (const frame of frames) {
          if (this.conn !== conn) return;
          this.onFrame(frame);
        }
      },
      unparseable: (err) => this.emit("error", new HawsError("bad_frame", `unparseable frame from the node: ${err.message}`)),
      close: (code, reason, opened) => void this.closed(conn, code, reason, opened),
    }));
    this.connectTimer = setTimeout(() => conn.drop("connect timeout"), this.opts.connectTimeout);
  }

  private async closed(conn: Connection, code: number, reason: string, opened: boolean): Promise<void> {
    if (this.conn !== conn) return;
    const welcomed = this.welcomed;
    this.conn = null;
    this.welcomed = false;
    this.stopTimers();
    for (const reply of this.replies.values()) reply.reject(new HawsError("disconnected", "the connection closed"));
    this.replies.clear();
    if (!this.wanted || this.state === "closed") return;
    const label = reason || `closed ${code}`;
    if (code === 4009 || (this.move?.reason === "takeover" && code !== DROPPED)) {
      this.session = undefined;
      this.store.clear();
      return this.finish("takeover", new HawsError("takeover", "the session was taken over by a newer connection"), code);
    }
    if (code === 4001) {
      this.tokens.current = null;
      if (!this.tokens.enabled || ++this.authFailures > 1) {
        return this.finish("unauthorized", new HawsError("unauthorized", `the node refused the token: ${label}`), code);
      }
    }
    let minDelay = 0;
    if (!opened) {
      const verdict = await diagnose(this.fetcher, conn.url, this.opts.requestTimeout, this.opts.backoffCap * 3);
      if (this.conn || !this.wanted || (this.state as State) === "closed") return;
      if (verdict === "origin") {
        const origin = (globalThis as { location?: { origin?: string } }).location?.origin ?? "this page";
        return this.finish(
          "origin_refused",
          new HawsError("origin_refused", `the gateway refused ${origin} (HTTP 403): add it to the gateways' HAWS_ALLOWED_ORIGINS`),
          403,
        );
      }
      minDelay = verdict;
    }
    const rule = closeRule(code);
    if (!rule.resume) this.session = undefined;
    // Leave the URL that failed, and the node that died even when it was reached through a proxy.
    const avoid = rule.move || !opened ? [conn.url] : [];
    const dead = welcomed && code !== 4000 ? this.nodes.find((n) => n.node === this.node)?.url : undefined;
    if (dead) avoid.push(dead);
    this.retry(label, code, avoid, this.move?.delay ?? minDelay, welcomed);
  }

  private retry(reason: string, code: number | undefined, avoid: string[], atLeast = 0, wasUp = false): void {
    this.avoid = avoid;
    const jitter = this.backoff.next();
    const delay = this.move ? atLeast : Math.max(atLeast, jitter);
    this.move = null;
    const change: Omit<StateChange, "state" | "previous"> = { reason, delay, reconnecting: this.everConnected };
    if (code !== undefined) change.code = code;
    if (wasUp || this.state !== "connecting") this.setState("connecting", change);
    else this.emit("state", { state: "connecting", previous: "connecting", ...change });
    this.retryTimer = setTimeout(() => void this.attempt(), delay);
  }

  private finish(reason: string, error: HawsError, code: number): void {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    const conn = this.conn;
    this.conn = null;
    this.welcomed = false;
    conn?.drop(reason);
    this.stopTimers();
    this.outbox.clear(error);
    this.unwatch();
    this.setState("closed", { reason, code, reconnect: closeRule(code).reconnect && code !== 403, error });
  }

  /** Stop the socket but keep everything for later (disconnect, offline, back-forward cache). */
  private pause(reason: string): void {
    this.wanted = reason !== "client" && this.wanted;
    clearTimeout(this.retryTimer);
    const conn = this.conn;
    this.conn = null;
    this.welcomed = false;
    this.stopTimers();
    conn?.drop(reason);
    this.store.write(this.resumeState());
    if (this.state !== "disconnected") this.setState("disconnected", { reason });
  }

  private offline(): void {
    if (this.state === "closed") return;
    const wanted = this.wanted;
    this.pause("offline");
    this.wanted = wanted;
  }

  private wake(reason: string): void {
    if (!this.wanted || this.state === "closed") return;
    if (this.welcomed) return this.heartbeat.check();
    if (!this.conn) {
      this.backoff.reset();
      void this.attempt();
    }
  }

  private stopTimers(): void {
    clearTimeout(this.connectTimer);
    this.refresher.stop();
    this.heartbeat.stop();
  }

  // ---- frames ------------------------------------------------------------------

  private onFrame(f: ServerFrame): void {
    switch (f.op) {
      case "welcome":
        return this.onWelcome(f);
      case "msg":
        return this.onMsg(f);
      case "recovered":
      case "join":
      case "leave":
      case "counts":
        return this.subs.get(f.topic ?? "")?.route(f);
      case "ack": {
        this.outbox.take(f.id ?? -1)?.resolve({ seq: f.seq ?? 0, dup: f.dup === true });
        return;
      }
      case "pong":
        return this.heartbeat.pong();
      case "reconnect":
        this.move = { delay: f.delay ?? 0, reason: f.reason ?? "drain" };
        return;
      case "error":
        return this.onError(f);
      default:
        if (f.id !== undefined) {
          const reply = this.replies.get(f.id);
          this.replies.delete(f.id);
          reply?.resolve(f);
        }
    }
  }

  private onWelcome(f: ServerFrame): void {
    const conn = this.conn as Connection;
    clearTimeout(this.connectTimer);
    this.welcomed = true;
    this.everConnected = true;
    this.session = f.session;
    this.node = f.node;
    this.backoff.reset();
    this.authFailures = 0;
    this.avoid = [];
    this.save();
    for (const sub of this.subs.values()) this.sendSub(sub);
    this.outbox.expire();
    for (const entry of this.outbox.waiting()) conn.send(entry.wire);
    if (this.opts.pingInterval === undefined && f.heartbeat) this.heartbeat.interval = f.heartbeat * 1000;
    this.heartbeat.start();
    this.refresher.start();
    const welcome: Welcome = {
      session: f.session ?? "",
      node: f.node ?? "",
      resumed: f.resumed === true,
      heartbeat: f.heartbeat ?? 0,
      ttl: f.ttl ?? 0,
      url: conn.url,
    };
    this.setState("connected", { reason: welcome.resumed ? "resumed" : "new session" });
    this.emit("welcome", welcome);
    if (this.opts.discover) void this.discover(conn.url);
  }

  private onMsg(f: ServerFrame): void {
    const sub = this.subs.get(f.topic ?? "");
    if (!sub) return;
    const verdict = sub.check(f);
    if (verdict === "duplicate") return;
    if (verdict === "refill") {
      // A hole in the chain: resume from the cursor, which sends exactly what is missing.
      this.conn?.drop("chain break");
      return;
    }
    sub.deliver(f);
    this.save();
  }

  private onError(f: ServerFrame): void {
    const err = new HawsError(f.code ?? "internal", f.message ?? "", f.topic);
    const entry = f.id === undefined ? undefined : this.outbox.take(f.id);
    if (entry) {
      if (RETRYABLE.has(err.code)) {
        this.outbox.requeue(entry); // re-sent after a pause, same id and mid
        setTimeout(() => this.welcomed && this.outbox.has(entry) && this.conn?.send(entry.wire), 1000);
      } else {
        entry.reject(err);
      }
      return;
    }
    const reply = f.id === undefined ? undefined : this.replies.get(f.id);
    if (reply) {
      this.replies.delete(f.id as number);
      return reply.reject(err);
    }
    const sub = f.topic === undefined ? undefined : this.subs.get(f.topic);
    if (sub) {
      this.subs.delete(sub.topic);
      delete this.stored[sub.topic];
      this.save();
      return sub.fail(err);
    }
    this.emit("error", err);
  }

  private sendSub(sub: Subscription): void {
    const frame: ClientFrame = { op: "sub", topic: sub.topic };
    const since = sub.since;
    if (since !== undefined) frame.since = since;
    if (sub.options.presence) frame.presence = true;
    this.request(frame).then(
      (ok) => sub.active && sub.confirm(ok.seq ?? 0),
      (err: HawsError) => {
        if (err.code === "disconnected" || this.subs.get(sub.topic) !== sub) return;
        if (RETRYABLE.has(err.code)) {
          setTimeout(() => this.welcomed && this.subs.get(sub.topic) === sub && this.sendSub(sub), 1000);
          return;
        }
        this.subs.delete(sub.topic);
        this.save();
        sub.fail(err);
      },
    );
  }

  private request(frame: ClientFrame): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      if (!this.welcomed || !this.conn) return reject(new HawsError("disconnected", "not connected"));
      const id = this.nextId++;
      this.replies.set(id, { resolve, reject });
      this.conn.send(encode({ ...frame, id }));
    });
  }

  // ---- discovery, storage ---------------------------------------------------

  private async discover(url: string): Promise<void> {
    const nodes = await gateways(this.fetcher, url, this.opts.requestTimeout);
    if (!nodes) return; // keep the list we have; the seeds always remain
    this.nodes = nodes;
    this.endpoints.update(nodes.map((n) => n.url));
    this.emit("nodes", nodes);
  }

  private cursors(): Record<string, number> {
    const cursors: Record<string, number> = {};
    for (const sub of this.subs.values()) if (sub.cursor !== null) cursors[sub.topic] = sub.cursor;
    return cursors;
  }

  private resumeState(): ResumeState {
    const state: ResumeState = { cursors: { ...this.stored, ...this.cursors() } };
    if (this.session) state.session = this.session;
    return state;
  }

  private save(): void {
    this.store.save(() => this.resumeState());
  }
}
