"""A new session's claim beside its ``welcome`` (issue 14), on real nats-server,
JetStream KV and the presence service: the join follows, and a resume elsewhere
sent right after ``welcome`` keeps the session whichever claim lands first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from haws.presence.node import PresenceNode, run_presence
from tests.integration.conftest import Connect
from tests.integration.presence.presence_support import presence_settings
from tests.support.gateway_runner import RunningGateway
from tests.support.service_runner import running_service
from tests.support.waiting import eventually
from tests.support.ws_client import WsClient

pytestmark = pytest.mark.integration

RACES = 8
"""Sessions resumed on the other node straight after their first welcome."""


@pytest.fixture
async def presence(shared_nats: Any) -> AsyncIterator[PresenceNode]:
    async with running_service(run_presence, presence_settings(shared_nats.url)) as service:
        yield service.value


async def test_a_new_session_is_owned_and_joins_after_its_welcome(
    presence: PresenceNode, gateway: RunningGateway, connect: Connect, topic: str
) -> None:
    watcher = await connect(gateway.url)
    await watcher.sub(topic, presence=True)
    newcomer = await connect(gateway.url)
    await newcomer.sub(topic, presence=True)  # possibly before its claim landed
    s = newcomer.session
    await eventually(
        lambda: any(f.get("op") == "join" and f["who"]["session"] == s for f in watcher.others),
        message="the newcomer's join, after its claim",
    )
    conn = gateway.deps.hub.by_session[s]
    assert conn.epoch > 0  # owned: its events carry a real epoch


async def test_a_resume_elsewhere_right_after_welcome_keeps_the_session(
    presence: PresenceNode,
    gateway: RunningGateway,
    gateway2: RunningGateway,
    connect: Connect,
    topic: str,
) -> None:
    async def race() -> tuple[WsClient, WsClient]:
        first = await connect(gateway.url)  # its claim may still be in flight
        again = await connect(gateway2.url, session=first.session)
        return first, again

    pairs = await asyncio.gather(*(race() for _ in range(RACES)))
    for first, again in pairs:
        assert again.session == first.session
        assert (await first.recv("reconnect", timeout=10))["reason"] == "takeover"
        assert await first.wait_closed() == 4009
    for _, again in pairs:  # the newer connections own their sessions, on gateway 2
        await again.sub(topic, presence=True)
    sessions = {again.session for _, again in pairs}

    async def owned_on_gateway2() -> bool:
        reply = await pairs[0][1].request({"op": "presence", "topic": topic})
        nodes = {m["session"]: m["node"] for m in reply.get("members", [])}
        return nodes == dict.fromkeys(sessions, gateway2.deps.node)

    await eventually(owned_on_gateway2, timeout=10, message="every session owned on gateway 2")
    assert all(not again.closed.is_set() for _, again in pairs)
