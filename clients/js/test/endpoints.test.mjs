import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { FakeSocket, connected, makeClient, settle } from "./fake.mjs";

beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 }));
afterEach(() => mock.timers.reset());

const nodes = [
  { node: "gw-1", url: "ws://10.0.0.1/ws", connections: 3 },
  { node: "gw-2", url: "ws://10.0.0.2/ws", connections: 1 },
];

test("nodes from /v1/gateways join the seeds; the dead node is skipped even behind a proxy", async () => {
  const asked = [];
  const fetch = async (url) => (asked.push(url), { ok: true, status: 200, json: async () => nodes });
  const client = makeClient({ fetch, discover: true }, "ws://lb.test/ws");
  const seen = [];
  client.on("nodes", (n) => seen.push(n.map((x) => x.node)));
  const ws = await connected(client, { node: "gw-1" });
  await settle(10);
  assert.deepEqual(asked, ["http://lb.test/v1/gateways"]);
  assert.deepEqual(seen, [["gw-1", "gw-2"]]);
  assert.deepEqual(client.endpoints.urls, ["ws://lb.test/ws", "ws://10.0.0.1/ws", "ws://10.0.0.2/ws"]);
  ws.serverClose(1006); // gw-1 died under the load balancer
  await settle();
  mock.timers.tick(500);
  await settle();
  assert.equal(FakeSocket.last.url, "ws://10.0.0.2/ws", "neither the proxy URL that failed nor gw-1");
});

test("a failing gateway list keeps the seeds", async () => {
  const fetch = async () => {
    throw new TypeError("network");
  };
  const client = makeClient({ fetch, discover: true }, ["ws://a.test/ws", "ws://b.test/ws"]);
  await connected(client);
  await settle(10);
  assert.deepEqual(client.endpoints.urls, ["ws://a.test/ws", "ws://b.test/ws"]);
  assert.throws(() => makeClient({}, ["http://a.test/ws"]), TypeError);
});
