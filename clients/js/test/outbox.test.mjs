import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { FakeSocket, connected, makeClient, settle } from "./fake.mjs";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 }));
afterEach(() => mock.timers.reset());

test("a publish made offline goes out once after welcome; a drop before ack re-sends the same mid", async () => {
  const client = makeClient();
  const result = client.publish("chat.a", { text: "hi" });
  const first = await connected(client);
  const [pub] = first.ops("pub");
  assert.equal(pub.topic, "chat.a");
  assert.match(pub.mid, /^[0-9a-z]+-1$/);
  first.serverClose(1006);
  await settle();
  mock.timers.tick(500);
  await settle();
  const second = FakeSocket.last;
  second.open();
  second.welcome({ resumed: true });
  const [again] = second.ops("pub");
  assert.deepEqual(again, pub, "same id, same mid: the duplicate window stores it once");
  second.frame({ op: "ack", id: pub.id, seq: 12, dup: true });
  assert.deepEqual(await result, { seq: 12, dup: true });
  assert.equal(client.pending, 0);
});

test("the outbox is bounded by size: the publish over the limit is refused and reported", async () => {
  const client = makeClient({ outboxSize: 2 });
  const dropped = [];
  client.on("dropped", (d) => dropped.push(d.error.code));
  client.publish("chat.a", 1);
  client.publish("chat.a", 2);
  await assert.rejects(client.publish("chat.a", 3), { code: "outbox_full" });
  assert.deepEqual(dropped, ["outbox_full"]);
  assert.equal(client.pending, 2);
});

test("the outbox is bounded by age: an old publish is reported as expired, never sent late", async () => {
  const client = makeClient({ outboxMaxAge: 5000 });
  const dropped = [];
  client.on("dropped", (d) => dropped.push(d));
  const result = client.publish("chat.a", "late");
  mock.timers.tick(5001);
  await assert.rejects(result, { code: "expired" });
  assert.equal(dropped.length, 1);
  assert.equal(dropped[0].data, "late");
  const ws = await connected(client);
  assert.equal(ws.ops("pub").length, 0);
  assert.throws(() => makeClient({ outboxMaxAge: 130_000 }), RangeError);
});

test("a publish over the frame limit is refused before sending", async () => {
  const client = makeClient({ maxFrameBytes: 100 });
  const ws = await connected(client);
  await assert.rejects(client.publish("chat.a", "é".repeat(60)), { code: "too_large" });
  assert.equal(ws.ops("pub").length, 0);
  assert.equal(client.pending, 0);
});

test("unavailable is retried with the same mid; a final error rejects", async () => {
  const client = makeClient();
  const ws = await connected(client);
  const ok = client.publish("chat.a", 1);
  const bad = client.publish("chat.a", 2);
  const [p1, p2] = ws.ops("pub");
  ws.frame({ op: "error", id: p1.id, code: "unavailable", message: "broker" });
  ws.frame({ op: "error", id: p2.id, code: "forbidden", message: "no grant" });
  await assert.rejects(bad, { code: "forbidden" });
  mock.timers.tick(1000);
  assert.deepEqual(ws.ops("pub").at(-1), p1);
  ws.frame({ op: "ack", id: p1.id, seq: 3, dup: false });
  assert.deepEqual(await ok, { seq: 3, dup: false });
});
