import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { FakeSocket, connected, jwt, makeClient, settle } from "./fake.mjs";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000_000 }));
afterEach(() => mock.timers.reset());

test("a token is refreshed before it expires, on the open connection, one getToken at a time", async () => {
  let calls = 0;
  let release;
  const tokens = [];
  const getToken = () => {
    calls++;
    const token = jwt({ sub: "u", exp: Date.now() / 1000 + 60 });
    tokens.push(token);
    return calls === 1 ? token : new Promise((resolve) => (release = () => resolve(token)));
  };
  const client = makeClient({ getToken, refreshMargin: 10_000 });
  const states = [];
  client.on("state", (s) => states.push(s.state));
  const ws = await connected(client);
  assert.equal(ws.sent[0].token, tokens[0]);
  mock.timers.tick(49_999);
  await settle();
  assert.equal(calls, 1);
  mock.timers.tick(1);
  await settle();
  assert.equal(calls, 2, "refresh started 10 s before exp");
  // The socket drops while the refresh is still running: the reconnect waits for the same call.
  ws.serverClose(1006);
  await settle();
  mock.timers.tick(500);
  await settle();
  assert.equal(calls, 2, "single flight: no second getToken");
  release();
  await settle(10);
  const next = FakeSocket.last;
  next.open();
  assert.equal(next.sent[0].token, tokens[1]);
  next.welcome({ resumed: true });
  assert.equal(calls, 2);
});

test("refresh goes over the open socket and keeps the connection", async () => {
  let n = 0;
  const client = makeClient({ getToken: () => jwt({ sub: "u", exp: Date.now() / 1000 + 8, n: n++ }) });
  const states = [];
  const ws = await connected(client);
  client.on("state", (s) => states.push(s.state));
  mock.timers.tick(4000);
  await settle();
  const [refresh] = ws.ops("refresh");
  assert.ok(refresh, "refreshed at half of the short token's life");
  ws.frame({ op: "refreshed", id: refresh.id, exp: Date.now() / 1000 + 8 });
  await settle();
  mock.timers.tick(4000);
  await settle();
  assert.equal(ws.ops("refresh").length, 2);
  assert.deepEqual(states, [], "never disconnected");
});

test("a token refused twice in a row stops reconnecting with a clear error", async () => {
  const client = makeClient({ getToken: () => "bad" });
  const done = client.connect();
  await settle();
  FakeSocket.last.open();
  FakeSocket.last.serverClose(4001, "bad token");
  await settle();
  assert.equal(client.state, "connecting", "one more try with a fresh token");
  mock.timers.tick(500);
  await settle();
  FakeSocket.last.open();
  FakeSocket.last.serverClose(4001, "bad token");
  await assert.rejects(done, (err) => err.code === "unauthorized" && /bad token/.test(err.message));
  assert.equal(client.state, "closed");
});
