import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { Backoff, closeRule } from "../dist/esm/index.js";
import { FakeSocket, connected, makeClient, settle } from "./fake.mjs";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 }));
afterEach(() => mock.timers.reset());

function states(client) {
  const seen = [];
  client.on("state", (s) => seen.push(s));
  return seen;
}

test("connect, lose the node, reconnect with the session: disconnected -> connecting -> connected", async () => {
  const client = makeClient();
  const seen = states(client);
  assert.equal(client.state, "disconnected");
  const ws = await connected(client);
  assert.deepEqual(ws.sent[0], { op: "hello", v: 1, batch: true });
  assert.equal(ws.protocol, "haws.v1.json");
  assert.equal(client.state, "connected");
  ws.serverClose(1006);
  await settle();
  const lost = seen.at(-1);
  assert.equal(lost.state, "connecting");
  assert.equal(lost.reconnecting, true);
  assert.equal(lost.code, 1006);
  assert.ok(lost.delay <= 500, `first retry within the 500 ms base, got ${lost.delay}`);
  mock.timers.tick(lost.delay);
  await settle();
  const again = FakeSocket.last;
  assert.notEqual(again, ws);
  again.open();
  assert.equal(again.sent[0].session, "s1", "the hello resumes the session");
  again.welcome({ resumed: true });
  assert.equal(client.state, "connected");
  assert.deepEqual(seen.map((s) => s.state), ["connecting", "connected", "connecting", "connected"]);
});

test("disconnect() keeps the session and stops retrying; close() is final", async () => {
  const client = makeClient();
  const ws = await connected(client);
  client.disconnect();
  assert.equal(client.state, "disconnected");
  assert.equal(ws.closedWith.code, 1000);
  mock.timers.tick(60_000);
  await settle();
  assert.equal(FakeSocket.all.length, 1, "no reconnect after disconnect()");
  const resumed = client.connect();
  await settle();
  FakeSocket.last.open();
  assert.equal(FakeSocket.last.sent[0].session, "s1");
  FakeSocket.last.welcome();
  await resumed;
  client.close();
  assert.equal(client.state, "closed");
  await assert.rejects(client.connect(), { code: "closed" });
});

test("backoff is full jitter, doubles from the base and stops at the cap", () => {
  const top = new Backoff(500, 20_000, () => 1);
  const ceilings = Array.from({ length: 10 }, () => top.next());
  assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000, 20000]);
  const low = new Backoff(500, 20_000, () => 0);
  assert.equal(low.next(), 0);
  assert.throws(() => new Backoff(0, 1), RangeError);
});

test("failed attempts widen up to the cap, and attempts reset after welcome", async () => {
  const client = makeClient({ backoffBase: 100, backoffCap: 1000 });
  const delays = [];
  client.on("state", (s) => s.state === "connecting" && s.delay !== undefined && delays.push(s.delay));
  client.connect();
  for (let i = 0; i < 6; i++) {
    await settle();
    FakeSocket.last.open();
    FakeSocket.last.serverClose(1006);
    await settle();
    mock.timers.tick(delays.at(-1));
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  await settle();
  FakeSocket.last.open();
  FakeSocket.last.welcome();
  FakeSocket.last.serverClose(1006);
  await settle();
  assert.equal(delays.at(-1), 100, "a welcome resets the attempts");
});

test("reconnect frame: its delay is honoured and the next attempt goes to another node", async () => {
  const client = makeClient({}, ["ws://a.test/ws", "ws://b.test/ws"]);
  const seen = states(client);
  const ws = await connected(client);
  assert.equal(ws.url, "ws://a.test/ws");
  ws.frame({ op: "reconnect", reason: "drain", delay: 1234 });
  ws.serverClose(4000, "drain");
  await settle();
  assert.equal(seen.at(-1).delay, 1234);
  mock.timers.tick(1233);
  await settle();
  assert.equal(FakeSocket.all.length, 1);
  mock.timers.tick(1);
  await settle();
  assert.equal(FakeSocket.last.url, "ws://b.test/ws");
});

test("takeover (4009) and a refused token (4001) close for good with the reason", async () => {
  const client = makeClient();
  const seen = states(client);
  const ws = await connected(client);
  ws.frame({ op: "reconnect", reason: "takeover", delay: 0 });
  ws.serverClose(4009, "taken over");
  await settle();
  assert.equal(client.state, "closed");
  assert.equal(seen.at(-1).reconnect, false);
  assert.equal(seen.at(-1).error.code, "takeover");

  const other = makeClient();
  const done = other.connect();
  await settle();
  FakeSocket.last.open();
  FakeSocket.last.serverClose(4001, "token expired");
  await assert.rejects(done, { code: "unauthorized" });
  assert.equal(other.state, "closed");
  mock.timers.tick(60_000);
  await settle();
  assert.equal(FakeSocket.all.length, 1, "no retry loop after 4001");
});

test("the close-code table follows the protocol", () => {
  assert.deepEqual(closeRule(4008), { reconnect: true, resume: true, move: false });
  assert.equal(closeRule(4001).reconnect, false);
  assert.equal(closeRule(4009).resume, false);
  assert.equal(closeRule(1013).move, true);
  assert.equal(closeRule(1006).reconnect, true);
});

test("an unparseable frame is reported, closes with 4002 and reconnects", async () => {
  const client = makeClient();
  const errors = [];
  client.on("error", (e) => errors.push(e.code));
  const ws = await connected(client);
  ws.frame("{not json");
  assert.deepEqual(errors, ["bad_frame"]);
  assert.equal(ws.closedWith.code, 4002);
  assert.equal(client.state, "connecting");
  mock.timers.tick(500);
  await settle();
  assert.equal(FakeSocket.all.length, 2);
});

test("a silent connection is dropped after the pong timeout", async () => {
  const client = makeClient({ pingInterval: 1000, pongTimeout: 500 });
  const ws = await connected(client);
  mock.timers.tick(1000);
  assert.equal(ws.ops("ping").length, 1);
  ws.frame({ op: "pong", id: ws.ops("ping")[0].id });
  mock.timers.tick(1000);
  assert.equal(ws.ops("ping").length, 2);
  mock.timers.tick(500);
  assert.equal(client.state, "connecting", "no pong: the socket is half-open");
});
