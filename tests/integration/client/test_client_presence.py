"""Presence in the Python SDK against real gateways, a real presence replica and
nats-server: the ``presence`` query, a tracker that follows joins and leaves
across nodes and re-reads the list after a resume, counts-only topics (totals
plus a bounded sample), and ``unavailable`` while no presence service runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from haws.client import Client, PresenceCounts, PresenceMember
from haws.presence.node import PresenceNode, run_presence
from haws.protocol.errors import Unavailable
from tests.integration.client.conftest import MakeClient
from tests.integration.client.ws_proxy import WsProxy
from tests.integration.presence.presence_support import presence_settings
from tests.support.gateway_runner import RunningGateway
from tests.support.service_runner import running_service
from tests.support.waiting import eventually

COUNTS_FROM = 3
SAMPLE = 2
COUNTS_ONLY = {
    "presence_counts_from": COUNTS_FROM,
    "presence_sample": SAMPLE,
    "presence_counts_interval": 0.2,
}
"""A counts-only topic from 3 members (back to per-member below 2.7), samples of 2."""


@pytest.fixture
async def presence(shared_nats: Any, request: pytest.FixtureRequest) -> AsyncIterator[PresenceNode]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    settings = presence_settings(shared_nats.url, grace=1.5, **overrides)
    async with running_service(run_presence, settings) as service:
        yield service.value


async def member(make_client: MakeClient, url: str, topic: str) -> Client:
    """A client that is a presence member of ``topic``."""
    client = make_client([url], discover=False)
    await client.connect()
    await client.subscribe(topic, presence=True)
    return client


async def test_a_tracker_sees_another_client_join_and_leave_on_another_node(
    presence: PresenceNode,
    gateway: RunningGateway,
    gateway2: RunningGateway,
    make_client: MakeClient,
    topic: str,
) -> None:
    events: list[tuple[str, str]] = []
    watcher = make_client([gateway.url], discover=False)
    await watcher.connect()
    room = await watcher.track_presence(
        topic,
        on_join=lambda who: events.append(("join", who.session)),
        on_leave=lambda who: events.append(("leave", who.session)),
    )
    assert room.synced
    me = watcher.session
    await eventually(lambda: me in room, message="the tracker lists its own client")

    bob = await member(make_client, gateway2.url, topic)
    await eventually(lambda: bob.session in room, message="the tracker sees bob join")
    assert room.sessions == {me, bob.session}
    assert ("join", bob.session) in events

    await bob.unsubscribe(topic)
    await eventually(lambda: bob.session not in room, message="the tracker sees bob leave")
    assert events[-1] == ("leave", bob.session)
    assert room.sessions == {me}
    await room.close()


async def test_a_query_answers_the_members_with_their_nodes(
    presence: PresenceNode,
    gateway: RunningGateway,
    gateway2: RunningGateway,
    make_client: MakeClient,
    topic: str,
) -> None:
    alice = await member(make_client, gateway.url, topic)
    bob = await member(make_client, gateway2.url, topic)
    asker = make_client([gateway2.url], discover=False)
    await asker.connect()  # asks without subscribing: the query needs no subscription

    async def both_listed() -> bool:
        answer = await asker.presence(topic)
        return {m.session for m in answer.members} == {alice.session, bob.session}

    await eventually(both_listed, message="the query lists alice and bob")
    answer = await asker.presence(topic)
    assert answer.topic == topic
    assert not answer.sample
    assert (answer.count, answer.users) == (None, None)
    assert set(answer.members) == {
        PresenceMember(str(alice.session), None, gateway.deps.node),
        PresenceMember(str(bob.session), None, gateway2.deps.node),
    }


async def test_after_a_resume_the_tracker_drops_a_member_who_left_while_it_was_away(
    presence: PresenceNode,
    gateway: RunningGateway,
    make_client: MakeClient,
    topic: str,
) -> None:
    bob = await member(make_client, gateway.url, topic)
    bob_session = bob.session
    leaves: list[str] = []

    def bobs_leave(frame: dict[str, Any]) -> bool:
        return frame.get("op") == "leave" and frame.get("who", {}).get("session") == bob_session

    # The proxy cuts the watcher's connection instead of passing it bob's leave:
    # the watcher never sees that frame, and learns it from the snapshot it re-reads.
    async with WsProxy(gateway.url, cut_before=bobs_leave, max_cuts=1) as proxy:
        watcher = make_client([proxy.url], discover=False)
        await watcher.connect()
        room = await watcher.track_presence(topic, on_leave=lambda who: leaves.append(who.session))
        await eventually(lambda: bob_session in room, message="the tracker lists bob")

        await bob.unsubscribe(topic)
        await eventually(lambda: proxy.cuts == 1, message="the leave cut the connection")
        await eventually(lambda: watcher.stats.reconnects >= 1, message="the watcher resumed")
        await eventually(lambda: bob_session not in room, message="bob is gone after the resume")
        await room.wait_synced(timeout=10)
        assert leaves == [bob_session]
        assert watcher.session in room  # its own membership survived the resume
        assert proxy.connections >= 2


@pytest.mark.parametrize("presence", [COUNTS_ONLY], indirect=True)
async def test_a_counts_only_topic_answers_totals_and_a_bounded_sample(
    presence: PresenceNode,
    gateway: RunningGateway,
    gateway2: RunningGateway,
    make_client: MakeClient,
    topic: str,
) -> None:
    totals: list[PresenceCounts] = []
    watcher = make_client([gateway.url], discover=False)
    await watcher.connect()
    room = await watcher.track_presence(topic, on_counts=totals.append)
    urls = [gateway.url, gateway2.url]
    others = [await member(make_client, urls[i % 2], topic) for i in range(4)]
    truth = {watcher.session} | {c.session for c in others}
    assert len(truth) == 5

    await eventually(
        lambda: room.counts is not None and room.counts.count == len(truth),
        message="the tracker's counts reach the members",
    )
    assert room.counts is not None
    assert room.counts.users == 0  # anonymous sessions have no user id
    assert totals[-1].count == len(truth)

    answer = await watcher.presence(topic)
    assert answer.sample
    assert (answer.count, answer.users) == (len(truth), 0)
    assert 0 < len(answer.members) <= SAMPLE
    assert {m.session for m in answer.members} <= truth

    # Down to 1 member, under the lower mark (int(3 * 0.9) = 2): per-member again,
    # from the whole list the switch carries; then joins come one by one again.
    for client in others:
        await client.unsubscribe(topic)
    await eventually(
        lambda: room.counts is None and room.sessions == {watcher.session},
        timeout=20,
        message="the tracker rebuilt the whole list in per-member mode",
    )
    late = await member(make_client, gateway2.url, topic)
    await eventually(lambda: late.session in room, message="a join after the switch back")
    answer = await watcher.presence(topic)
    assert not answer.sample
    assert {m.session for m in answer.members} == {watcher.session, late.session}


async def test_without_a_presence_service_queries_are_unavailable_and_a_tracker_waits(
    shared_nats: Any, gateway: RunningGateway, make_client: MakeClient, topic: str
) -> None:
    client = make_client([gateway.url], discover=False)
    await client.connect()
    with pytest.raises(Unavailable):
        await client.presence(topic)

    room = await client.track_presence(topic)  # subscribed; the snapshot failed
    assert not room.synced
    assert room.attempts >= 1
    assert topic in client.topics

    settings = presence_settings(shared_nats.url, grace=1.5)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(running_service(run_presence, settings))
        await room.wait_synced(timeout=20)  # asked again with backoff until answered
        answer = await client.presence(topic)
        assert isinstance(answer.members, tuple)
        room.refresh()  # a snapshot in flight when the client closes...
        await client.close()
        assert room.closed  # ...is cancelled and awaited by close()
        assert not room.syncing
