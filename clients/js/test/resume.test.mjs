import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { Client, Presence } from "../dist/esm/index.js";
import { FakeSocket, MemoryStorage, connected, makeClient, msg, settle } from "./fake.mjs";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 }));
afterEach(() => mock.timers.reset());

test("a reload resumes from sessionStorage: same session, cursors per topic", async () => {
  const storage = new MemoryStorage();
  const page = makeClient({ storage, storageKey: "app" });
  page.subscribe("chat.a", { since: 0 });
  const ws = await connected(page, { session: "S-1" });
  ws.frame(msg("chat.a", 4, 0));
  await settle();
  assert.deepEqual(JSON.parse(storage.getItem("app")), { session: "S-1", cursors: { "chat.a": 4 } });

  // The reloaded page: a new Client on the same storage.
  const reloaded = new Client("ws://gw.test/ws", { WebSocket: FakeSocket, storage, storageKey: "app", lifecycle: false, discover: false });
  const sub = reloaded.subscribe("chat.a", { since: 0 });
  const got = [];
  sub.on("message", (m) => got.push(m.seq));
  const again = await connected(reloaded, { session: "S-1", resumed: true });
  assert.equal(again.sent[0].session, "S-1");
  assert.deepEqual(again.sent[0].cursors, { "chat.a": 4 });
  assert.equal(again.ops("sub")[0].since, 4, "the stored cursor wins over since: 0");
  again.frame(msg("chat.a", 4, 0));
  again.frame(msg("chat.a", 6, 4));
  assert.deepEqual(got, [6]);
  reloaded.close();
  assert.equal(storage.getItem("app"), null, "close() forgets the session");
});

test("close() right after a message leaves nothing stored behind", async () => {
  const storage = new MemoryStorage();
  const client = makeClient({ storage });
  client.subscribe("chat.a", { since: 0 });
  const ws = await connected(client);
  ws.frame(msg("chat.a", 1, 0)); // schedules a write at the end of this task
  client.close();
  await settle();
  assert.equal(storage.getItem("haws"), null);
});

test("corrupt storage is ignored", async () => {
  const storage = new MemoryStorage();
  storage.setItem("haws", "{oops");
  const client = makeClient({ storage });
  const ws = await connected(client);
  assert.equal(ws.sent[0].session, undefined);
});

test("presence: snapshot plus join/leave, with changes before the snapshot buffered", async () => {
  const client = makeClient();
  const sub = client.subscribe("room.a", { presence: true });
  const presence = new Presence(sub);
  const ws = await connected(client);
  const [s] = ws.ops("sub");
  assert.equal(s.presence, true);
  ws.frame({ op: "ok", id: s.id, topic: "room.a", seq: 0 });
  await settle();
  const [query] = ws.ops("presence");
  ws.frame({ op: "join", topic: "room.a", who: { session: "c" } });
  ws.frame({ op: "leave", topic: "room.a", who: { session: "b" } });
  assert.deepEqual(presence.members, [], "nothing shown before the snapshot");
  ws.frame({ op: "presence", id: query.id, topic: "room.a", members: [{ session: "a" }, { session: "b" }] });
  await settle();
  assert.deepEqual(presence.members.map((m) => m.session).sort(), ["a", "c"]);
  ws.frame({ op: "leave", topic: "room.a", who: { session: "a" } });
  assert.deepEqual(presence.members.map((m) => m.session), ["c"]);
});
