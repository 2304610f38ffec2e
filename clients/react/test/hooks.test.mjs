import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { StrictMode, act, createElement as h } from "react";
import TestRenderer from "react-test-renderer";
import { FakeSocket, connected, makeClient, msg, settle } from "../../js/test/fake.mjs";
import { HawsProvider, useConnectionState, usePresence, useSubscription } from "../dist/esm/index.js";

globalThis.IS_REACT_ACT_ENVIRONMENT = true;
beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
afterEach(() => mock.timers.reset());

function mount(client, element) {
  let renderer;
  act(() => {
    renderer = TestRenderer.create(h(StrictMode, null, h(HawsProvider, { client }, element)));
  });
  return renderer;
}

test("useSubscription under StrictMode: one sub on the wire, each message once", async () => {
  const client = makeClient();
  const ws = await connected(client);
  const seen = [];
  function Room() {
    const { messages } = useSubscription("chat.a", { since: 0 });
    seen.push(messages.map((m) => m.seq));
    return null;
  }
  const renderer = mount(client, h(Room));
  mock.timers.tick(1); // StrictMode's cleanup released the topic; the remount took it back
  assert.equal(ws.ops("sub").length, 1);
  assert.equal(ws.ops("unsub").length, 0);
  act(() => {
    ws.frame(msg("chat.a", 1, 0));
    ws.frame(msg("chat.a", 2, 1));
  });
  assert.deepEqual(seen.at(-1), [1, 2]);
  act(() => renderer.unmount());
  mock.timers.tick(1);
  await settle();
  assert.equal(ws.ops("unsub").length, 1, "a real unmount unsubscribes");
});

test("useConnectionState follows the client", async () => {
  const client = makeClient();
  const seen = [];
  function Status() {
    const s = useConnectionState();
    seen.push(`${s.state}${s.reconnecting ? " (reconnecting)" : ""}`);
    return null;
  }
  mount(client, h(Status));
  assert.equal(seen.at(-1), "disconnected");
  let ws;
  await act(async () => {
    ws = await connected(client);
  });
  assert.equal(seen.at(-1), "connected");
  act(() => ws.serverClose(1006));
  await act(() => settle());
  assert.equal(seen.at(-1), "connecting (reconnecting)");
  assert.equal(FakeSocket.all.length, 1);
});

test("usePresence keeps the member list", async () => {
  const client = makeClient();
  const ws = await connected(client);
  let members = [];
  function Who() {
    members = usePresence("room.a");
    return null;
  }
  mount(client, h(Who));
  mock.timers.tick(1);
  await act(() => settle());
  const [sub] = ws.ops("sub");
  assert.equal(sub.presence, true);
  const queries = ws.ops("presence");
  await act(async () => {
    for (const q of queries) ws.frame({ op: "presence", id: q.id, topic: "room.a", members: [{ session: "x" }] });
    await settle();
  });
  act(() => ws.frame({ op: "join", topic: "room.a", who: { session: "y" } }));
  assert.deepEqual(members.map((m) => m.session).sort(), ["x", "y"]);
});
