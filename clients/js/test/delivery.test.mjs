import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { FakeSocket, connected, makeClient, msg, settle } from "./fake.mjs";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 }));
afterEach(() => mock.timers.reset());

async function reconnect(ws, welcome = { resumed: true }) {
  ws.serverClose(1006);
  await settle();
  mock.timers.tick(500);
  await settle();
  const next = FakeSocket.last;
  next.open();
  next.welcome(welcome);
  return next;
}

test("a resume that overlaps what was delivered hands each seq to the app once", async () => {
  const client = makeClient();
  const sub = client.subscribe("chat.a", { since: 0 });
  const got = [];
  sub.on("message", (m) => got.push(m.seq));
  const ws = await connected(client);
  assert.deepEqual(ws.ops("sub")[0], { op: "sub", topic: "chat.a", since: 0, id: ws.ops("sub")[0].id });
  ws.frame(`${JSON.stringify(msg("chat.a", 3, 0))}\n${JSON.stringify(msg("chat.a", 5, 3))}`); // a batch
  const next = await reconnect(ws);
  assert.deepEqual(next.sent[0].cursors, { "chat.a": 5 });
  assert.equal(next.ops("sub")[0].since, 5);
  for (const [seq, prev] of [[3, 0], [5, 3], [8, 5], [8, 5], [9, 8]]) next.frame(msg("chat.a", seq, prev));
  assert.deepEqual(got, [3, 5, 8, 9]);
});

test("a hole in the prev chain is refilled by resuming from the cursor", async () => {
  const client = makeClient();
  const sub = client.subscribe("chat.a", { since: 0 });
  const got = [];
  const gaps = [];
  sub.on("message", (m) => got.push(m.seq));
  sub.on("gap", (g) => gaps.push(g));
  const ws = await connected(client);
  ws.frame(msg("chat.a", 1, 0));
  ws.frame(msg("chat.a", 7, 4)); // 4 never arrived
  assert.deepEqual(got, [1], "not delivered past a hole");
  assert.equal(client.state, "connecting", "dropped to resume from the cursor");
  const next = await reconnect(ws);
  assert.deepEqual(next.sent[0].cursors, { "chat.a": 1 });
  next.frame(msg("chat.a", 4, 1));
  next.frame(msg("chat.a", 7, 4));
  assert.deepEqual(got, [1, 4, 7]);
  assert.deepEqual(gaps, []);
});

test("a hole that the resume cannot fill is reported, never hidden", async () => {
  const client = makeClient();
  const sub = client.subscribe("chat.a", { since: 0 });
  const got = [];
  const gaps = [];
  sub.on("message", (m) => got.push(m.seq));
  sub.on("gap", (g) => gaps.push(g));
  const ws = await connected(client);
  ws.frame(msg("chat.a", 1, 0));
  ws.frame(msg("chat.a", 7, 4));
  const next = await reconnect(ws);
  next.frame(msg("chat.a", 7, 4));
  assert.deepEqual(got, [1, 7]);
  assert.deepEqual(gaps, [{ topic: "chat.a", expected: 1, prev: 4, seq: 7 }]);
});

test("recovered is passed on with the gap retention lost", async () => {
  const client = makeClient();
  const sub = client.subscribe("chat.a", { since: 0 });
  const recovered = [];
  sub.on("recovered", (r) => recovered.push(r));
  const ws = await connected(client);
  ws.frame({ op: "recovered", topic: "chat.a", complete: false, from: 1, to: 9 });
  ws.frame({ op: "recovered", topic: "chat.a", complete: true });
  assert.deepEqual(recovered, [
    { topic: "chat.a", complete: false, gap: { from: 1, to: 9 } },
    { topic: "chat.a", complete: true, gap: null },
  ]);
});

test("a live-only subscription resumes from where ok said the topic was", async () => {
  const client = makeClient();
  const sub = client.subscribe("chat.live");
  const got = [];
  sub.on("message", (m) => got.push(m.seq));
  const ws = await connected(client);
  assert.equal("since" in ws.ops("sub")[0], false);
  ws.frame({ op: "ok", id: ws.ops("sub")[0].id, topic: "chat.live", seq: 40 });
  await settle();
  ws.frame(msg("chat.live", 44, 42)); // first live message need not chain to ok.seq
  const next = await reconnect(ws);
  assert.equal(next.ops("sub")[0].since, 44);
  assert.deepEqual(got, [44]);
});

test("a subscription the node refuses or drops is reported on it", async () => {
  const client = makeClient();
  const sub = client.subscribe("secret.a");
  const errors = [];
  sub.on("error", (e) => errors.push(e.code));
  const ws = await connected(client);
  ws.frame({ op: "error", id: ws.ops("sub")[0].id, code: "forbidden", message: "no grant" });
  await settle();
  assert.deepEqual(errors, ["forbidden"]);
  assert.equal(sub.active, false);
  assert.throws(() => client.subscribe("bad topic"), { code: "bad_request" });
});
