"""A backend publishes over HTTP, over NATS and with the SDK: raw clients on two
gateway nodes get each message once, in one seq/prev chain; broadcast reaches
100 topics; a retried mid is stored once; history reads them back."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
from nats.aio.client import Client as NatsClient

from haws.api.node import ApiNode
from haws.cli.status import render
from haws.common import names
from haws.presence.node import run_presence
from haws.server import ServerApi
from tests.integration.api.conftest import KEY, OLD_KEY, StartApi
from tests.integration.conftest import Connect
from tests.integration.presence.presence_support import presence_settings
from tests.support.api_caller import ApiCaller
from tests.support.gateway_runner import RunningGateway
from tests.support.service_runner import running_service
from tests.support.waiting import eventually
from tests.support.ws_client import assert_chain


async def test_three_ways_to_publish_reach_clients_on_two_nodes_once_in_order(
    api: ApiNode,
    http: ApiCaller,
    nc: NatsClient,
    gateway: RunningGateway,
    gateway2: RunningGateway,
    connect: Connect,
    topic: str,
) -> None:
    a = await connect(gateway.url)
    b = await connect(gateway2.url)
    await a.sub(topic)
    await b.sub(topic)

    # Mids are unique per test: the stream's duplicate window spans every subject.
    m1, m4 = f"{topic}-m1", f"{topic}-m4"
    first = await http.ok("publish", {"topic": topic, "data": {"n": 1}, "mid": m1})
    reply = await nc.request(
        names.api_subject("publish"),
        json.dumps({"topic": topic, "data": {"n": 2}}).encode(),
        timeout=5,
    )
    second = json.loads(reply.data)
    async with ServerApi.http(api.url, OLD_KEY) as sdk_http:  # the rotated-out key still works
        third = await sdk_http.publish(topic, {"n": 3})
    sdk_nats = ServerApi.nats(nc)
    fourth = await sdk_nats.publish(topic, {"n": 4}, mid=m4)
    again = await sdk_nats.publish(topic, {"n": 4}, mid=m4)  # a retry: stored once

    assert [first["seq"], second["seq"], third.seq, fourth.seq] == sorted(
        {first["seq"], second["seq"], third.seq, fourth.seq}
    )
    assert (again.seq, again.dup) == (fourth.seq, True)
    assert first["dup"] is False
    for client in (a, b):
        msgs = await client.wait_msgs(topic, 4)
        assert [m["data"]["n"] for m in msgs] == [1, 2, 3, 4]
        assert_chain(msgs, first_prev=0)
        assert msgs[0]["mid"] == m1
    history = await http.ok("history", {"topic": topic, "limit": 10})
    assert [m["data"]["n"] for m in history["messages"]] == [1, 2, 3, 4]
    assert [m["seq"] for m in history["messages"]] == [m["seq"] for m in a.msgs[topic]]
    assert history["more"] is False
    page = await http.ok("history", {"topic": topic, "since": first["seq"], "limit": 2})
    assert [m["data"]["n"] for m in page["messages"]] == [2, 3]
    assert page["more"] is True


async def test_broadcast_to_100_topics_stores_one_message_on_each(
    http: ApiCaller, gateway: RunningGateway, connect: Connect
) -> None:
    prefix = f"b{uuid.uuid4().hex[:6]}"
    topics = [f"{prefix}.t{i}" for i in range(100)]
    client = await connect(gateway.url)
    for topic in topics[::33]:
        await client.sub(topic)

    answer = await http.ok("broadcast", {"topics": topics, "data": "all", "mid": prefix})
    retry = await http.ok("broadcast", {"topics": topics, "data": "all", "mid": prefix})

    results = answer["results"]
    assert [r["topic"] for r in results] == topics
    assert all(r["seq"] > 0 and r["dup"] is False for r in results)
    assert all(r["dup"] is True for r in retry["results"])
    assert [r["seq"] for r in retry["results"]] == [r["seq"] for r in results]
    for topic in topics[::33]:
        msgs = await client.wait_msgs(topic, 1)
        assert [(m["data"], m["prev"]) for m in msgs] == [("all", 0)]


async def test_presence_and_stats_count_sessions_and_users(
    presence: object, http: ApiCaller, gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    del presence
    for _ in range(2):
        client = await connect(gateway.url)
        await client.sub(topic, presence=True)
    answers: list[Any] = []

    async def both_listed() -> bool:  # the replica's index follows the claims' KV writes
        answers.append(await http.ok("presence", {"topic": topic}))
        return len(answers[-1]["members"]) == 2

    await eventually(both_listed, message="two members")
    answer = answers[-1]
    assert all(m["node"] == gateway.deps.node for m in answer["members"])
    stats = await http.ok("presence_stats", {"topic": topic})
    # Anonymous mode: no user ids, so no users counted.
    assert (stats["members"], stats["users"]) == (2, 0)


async def test_info_lists_the_nodes_the_streams_and_the_presence_leader(
    presence: object, http: ApiCaller, gateway: RunningGateway
) -> None:
    del presence
    info = await http.ok("info")
    nodes = {n["node"]: n for n in info["nodes"]}
    assert gateway.deps.node in nodes
    mine = nodes[gateway.deps.node]
    assert mine["url"] == gateway.url
    assert mine["version"]
    assert mine["uptime"] >= 0
    assert info["stream"]["last_seq"] >= 0
    assert info["events"]["replicas"] == 1
    assert info["presence"]["leader"]
    assert info["errors"] == {}
    assert KEY  # the default key of ``http``


async def test_info_lists_each_leader_shard_s_holder(nats_server: Any, start_api: StartApi) -> None:
    settings = presence_settings(nats_server.url, presence_shards=2)
    async with (
        running_service(run_presence, settings) as replica,
        start_api(nats_server.url) as node,
        aiohttp.ClientSession() as session,
    ):
        http = ApiCaller(session, node.url, KEY)
        name = replica.value.name

        async def both_led() -> bool:
            info = await http.ok("info")
            return bool(info["presence"].get("shards") == [name, name])

        await eventually(both_led, message="each shard's holder in info")
        info = await http.ok("info")
        assert info["presence"]["leader"] is None  # sharded: no single lease
        assert f"presence shards: 0: {name}, 1: {name}" in render(info)
