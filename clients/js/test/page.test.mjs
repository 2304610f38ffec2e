// The browser side, faked: page lifecycle events and the handshake diagnosis a page needs.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { FakeSocket, connected, makeClient, settle } from "./fake.mjs";

let page;
beforeEach(() => {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
  page = new EventTarget();
  globalThis.addEventListener = page.addEventListener.bind(page);
  globalThis.removeEventListener = page.removeEventListener.bind(page);
  globalThis.document = Object.assign(new EventTarget(), { visibilityState: "visible" });
  globalThis.location = { origin: "http://app.test" };
});
afterEach(() => {
  mock.timers.reset();
  delete globalThis.addEventListener;
  delete globalThis.removeEventListener;
  delete globalThis.document;
  delete globalThis.location;
});

function fire(name, extra = {}) {
  page.dispatchEvent(Object.assign(new Event(name), extra));
}

test("offline drops the socket and waits; online reconnects at once with the session", async () => {
  const client = makeClient({ lifecycle: true });
  const ws = await connected(client);
  fire("offline");
  assert.equal(client.state, "disconnected");
  assert.ok(ws.closedWith, "the socket is closed");
  mock.timers.tick(60_000);
  await settle();
  assert.equal(FakeSocket.all.length, 1, "no retry loop while offline");
  fire("online");
  await settle();
  assert.equal(FakeSocket.all.length, 2, "reconnects without waiting for a backoff");
  FakeSocket.last.open();
  assert.equal(FakeSocket.last.sent[0].session, "s1");
});

test("becoming visible checks a connected socket with a ping at once", async () => {
  const client = makeClient({ lifecycle: true, pingInterval: 60_000 });
  const ws = await connected(client);
  document.dispatchEvent(new Event("visibilitychange"));
  assert.equal(ws.ops("ping").length, 1);
  mock.timers.tick(5_000);
  assert.equal(client.state, "connecting", "no pong within the timeout: dropped");
});

test("the back-forward cache: pagehide closes and saves, pageshow resumes", async () => {
  const client = makeClient({ lifecycle: true });
  await connected(client);
  fire("pagehide", { persisted: true });
  assert.equal(client.state, "disconnected");
  fire("pageshow", { persisted: true });
  await settle();
  assert.equal(client.state, "connecting");
  assert.equal(FakeSocket.all.length, 2);
});

test("a handshake refused with 403 stops with origin_refused, naming the origin", async () => {
  const asked = [];
  const fetch = async (url) => (asked.push(url), { status: 403, headers: new Headers() });
  const client = makeClient({ fetch }, "wss://gw.test/prefix/ws");
  const done = client.connect();
  await settle();
  FakeSocket.last.serverClose(1006);
  await assert.rejects(done, (err) => err.code === "origin_refused" && err.message.includes("http://app.test"));
  assert.deepEqual(asked, ["https://gw.test/prefix/ws"]);
  assert.equal(client.state, "closed");
  mock.timers.tick(60_000);
  await settle();
  assert.equal(FakeSocket.all.length, 1);
});

test("a node answering 503 is left for Retry-After", async () => {
  const fetch = async () => ({ status: 503, headers: new Headers({ "Retry-After": "7" }) });
  const client = makeClient({ fetch }, ["ws://a.test/ws", "ws://b.test/ws"]);
  const delays = [];
  client.on("state", (s) => s.delay !== undefined && delays.push(s.delay));
  client.connect();
  await settle();
  FakeSocket.last.serverClose(1006);
  await settle(10);
  assert.deepEqual(delays, [7000]);
  mock.timers.tick(7000);
  await settle();
  assert.equal(FakeSocket.last.url, "ws://b.test/ws", "and another node is tried");
});
