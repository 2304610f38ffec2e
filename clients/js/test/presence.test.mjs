import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { Presence } from "../dist/esm/index.js";
import { connected, makeClient, settle } from "./fake.mjs";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 }));
afterEach(() => mock.timers.reset());

async function subscribed() {
  const client = makeClient();
  const sub = client.subscribe("room.big", { presence: true });
  const presence = new Presence(sub);
  const ws = await connected(client);
  const [s] = ws.ops("sub");
  ws.frame({ op: "ok", id: s.id, topic: "room.big", seq: 0 });
  await settle();
  const [query] = ws.ops("presence");
  return { client, sub, presence, ws, query };
}

test("counts-only topic: the snapshot is a sample with totals, counts frames update them", async () => {
  const { presence, ws, query } = await subscribed();
  const seen = [];
  presence.on("counts", (c) => seen.push(c));
  ws.frame({ op: "presence", id: query.id, topic: "room.big", members: [{ session: "a" }], count: 1500, users: 900, sample: true });
  await settle();
  assert.deepEqual(presence.counts, { count: 1500, users: 900 });
  assert.deepEqual(presence.members.map((m) => m.session), ["a"]);
  ws.frame({ op: "counts", topic: "room.big", count: 1501, users: 901, mode: "counts" });
  assert.deepEqual(presence.counts, { count: 1501, users: 901 });
  assert.deepEqual(seen, [{ count: 1500, users: 900 }, { count: 1501, users: 901 }]);
});

test("back to per-member mode: the whole list replaces the sample, then join/leave apply", async () => {
  const { presence, ws, query } = await subscribed();
  ws.frame({ op: "presence", id: query.id, topic: "room.big", members: [{ session: "a" }], count: 30, users: 0, sample: true });
  await settle();
  const joins = [];
  presence.on("join", (w) => joins.push(w.session));
  const members = [{ session: "a" }, { session: "b" }, { session: "c" }];
  ws.frame({ op: "counts", topic: "room.big", count: 3, users: 0, mode: "members", members });
  assert.equal(presence.counts, null);
  assert.deepEqual(presence.members.map((m) => m.session).sort(), ["a", "b", "c"]);
  assert.deepEqual(joins, [], "a sample growing into the list is no join");
  ws.frame({ op: "join", topic: "room.big", who: { session: "d" } });
  assert.deepEqual(joins, ["d"]);
});

test("a counts frame before the snapshot waits for it", async () => {
  const { presence, ws, query } = await subscribed();
  ws.frame({ op: "counts", topic: "room.big", count: 2000, users: 10, mode: "counts" });
  assert.equal(presence.counts, null);
  ws.frame({ op: "presence", id: query.id, topic: "room.big", members: [], count: 1999, users: 10, sample: true });
  await settle();
  assert.deepEqual(presence.counts, { count: 2000, users: 10 });
});

test("a client without the helper ignores counts frames", async () => {
  const { sub, ws } = await subscribed();
  const errors = [];
  sub.on("error", (e) => errors.push(e));
  ws.frame({ op: "counts", topic: "room.big", count: 5, users: 0, mode: "counts" });
  ws.frame({ op: "counts", topic: "other.topic", count: 5, users: 0, mode: "counts" });
  ws.frame({ op: "never.heard.of", topic: "room.big" });
  await settle();
  assert.deepEqual(errors, []);
});
