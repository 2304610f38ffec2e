"""The backplane canary alone finds a deaf gateway (issue 16, item 3).

The gateway's own nats-server is frozen (SIGSTOP): the TCP connection stays
open, so the NATS client reports connected until its pings run out (5 s x 2),
and nothing is delivered. The canary's probes stop coming back, and within its
bound the node fails ``/ready``, counts it, refuses upgrades, leaves Consul's
passing list and tells its client ``reconnect`` then 4000. Thawed, it comes back.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from haws.cluster import ConsulAgent, NatsServer
from haws.common import names
from haws.common.discovery import close_consul, consul_client, passing_instances
from tests.support.gateway_runner import RunningGateway, gateway_settings, running_gateway
from tests.support.waiting import eventually
from tests.support.ws_client import WsClient

pytestmark = pytest.mark.integration

CANARY_INTERVAL = 0.5
CANARY_BOUND = 2.0
DETECTION_BOUND = 10.0
"""What docs/reliability.md promises: clients told to move within 10 s of the cut."""


@pytest.fixture
async def canary_gateway(
    nats_server: NatsServer, consul_agent: ConsulAgent
) -> AsyncIterator[RunningGateway]:
    settings = gateway_settings(
        nats_server.url,
        consul_agent.http_url,
        canary_interval=CANARY_INTERVAL,
        canary_bound=CANARY_BOUND,
        request_timeout=1.0,
    )
    async with running_gateway(settings) as gw:
        yield gw


async def _ready(http_url: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http,
        http.get(f"{http_url}/ready") as resp,
    ):
        return resp.status, await resp.json()


async def _passing(consul_http: str, node: str) -> bool:
    consul = consul_client(consul_http)
    try:
        found = await passing_instances(consul, names.GATEWAY_SERVICE, 3.0)
    finally:
        await close_consul(consul)
    return any(i.service_id == node for i in found)


async def test_a_frozen_broker_is_found_by_the_canary_while_nats_reports_up(
    canary_gateway: RunningGateway, nats_server: NatsServer, consul_agent: ConsulAgent
) -> None:
    gw = canary_gateway
    deps = gw.deps
    client = await WsClient.connect(gw.url)
    try:
        await client.hello()
        await eventually(lambda: _passing(consul_agent.http_url, deps.node), message="passing")
        await eventually(lambda: deps.metrics.canary_probes.labels("ok")._value.get() >= 2)

        nats_server.pause()
        paused_at = time.monotonic()
        try:
            reconnect = await client.recv("reconnect", timeout=DETECTION_BOUND)
            told_after = time.monotonic() - paused_at
            assert reconnect["reason"] == "drain"
            assert await client.wait_closed() == 4000
            # The canary, not the NATS client, found it: the connection still reports up.
            assert deps.metrics.canary_deaf.labels("cut", "up")._value.get() == 1
            assert deps.metrics.canary_deaf.labels("cut", "down")._value.get() == 0
            status, body = await _ready(gw.http)
            assert status == 503
            assert body["reason"] in ("backplane canary lost", "nats disconnected")
            await eventually(
                lambda: _not(_passing(consul_agent.http_url, deps.node)),
                timeout=DETECTION_BOUND,
                message="left consul's passing list",
            )
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await WsClient.connect(gw.url)
            assert refused.value.status == 503
            assert told_after < DETECTION_BOUND
        finally:
            nats_server.resume()

        await eventually(lambda: deps.state.backplane_ok, timeout=30, message="canary heard")
        await eventually(lambda: _passing(consul_agent.http_url, deps.node), timeout=15)
        await eventually(lambda: _ready_ok(gw.http), timeout=15, message="ready again")
    finally:
        await client.close()


async def _not(value: Any) -> bool:
    return not await value


async def _ready_ok(http_url: str) -> bool:
    status, _ = await _ready(http_url)
    return status == 200
