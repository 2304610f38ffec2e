"""HAProxy in front of real gateways: balancing, and failover when a gateway is SIGKILLed.

The cluster is the one ``haws up`` runs (three gateways, HAProxy finding them
through Consul DNS), with a 2 s Consul TTL so a dead node leaves quickly. Every
client connects to HAProxy's URL only; which node it lands on is read from
``welcome.node``.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import aiohttp
import pytest

from haws.cluster import ClusterSpec, LocalCluster, service_available
from haws.cluster.probe import http_json
from tests.support.resuming_client import (
    ResumingClient,
    StreamPublisher,
    assert_exactly_once,
)

pytestmark = [
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy not on PATH"),
    pytest.mark.skipif(not service_available("gateway"), reason="haws.gateway not installed"),
    pytest.mark.timeout(60),
]

CONSUL_TTL = 2.0
RESOLVER_HOLD = 1.0
"""``hold obsolete`` in the HAProxy template: how long a vanished record is kept."""
MARGIN = 2.0
"""One resolution interval (``timeout resolve 1s``) and one health-check interval."""
FAILOVER_BOUND = CONSUL_TTL + RESOLVER_HOLD + MARGIN
GATEWAY_ARGS = ("--consul-ttl", str(CONSUL_TTL), "--drain-period", "1", "--drain-timeout", "5")
GATEWAYS = 3
SUBSCRIBERS = 6
PROBE_INTERVAL = 0.05
MAX_PROBES = 200
PROBE_TIMEOUT = 5.0


@pytest.fixture
def cluster(data_dir: Path) -> Iterator[LocalCluster]:
    spec = ClusterSpec(gateways=GATEWAYS, presence=0, replay=0, gateway_args=GATEWAY_ARGS)
    with LocalCluster(data_dir, spec) as running:
        yield running


def lb_url(cluster: LocalCluster) -> str:
    assert cluster.haproxy is not None
    return cluster.haproxy.ws_url


async def start_clients(url: str, topic: str, count: int) -> list[ResumingClient]:
    clients = [ResumingClient(url, [topic], name=f"sub-{i}") for i in range(count)]
    for client in clients:  # one by one, so leastconn spreads them over the nodes
        await client.start()
    return clients


async def close_all(clients: list[ResumingClient]) -> None:
    await asyncio.gather(*(client.close() for client in clients))


async def probe(http: aiohttp.ClientSession, url: str) -> str | None:
    """The node that welcomes a brand-new connection through HAProxy; None if none does."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            async with http.ws_connect(url) as ws:
                await ws.send_json({"op": "hello", "v": 1})
                frame = await ws.receive_json()
                return str(frame["node"])
    except (aiohttp.ClientError, TimeoutError, ValueError, TypeError, KeyError):
        return None


def consul_passing(cluster: LocalCluster) -> set[str]:
    entries = http_json(f"{cluster.consul.http_url}/v1/health/service/haws-gateway?passing=1")
    return {entry["Service"]["ID"] for entry in entries or []}


async def test_clients_through_haproxy_spread_over_the_nodes_and_exchange_messages(
    cluster: LocalCluster,
) -> None:
    topic = f"t.{uuid4().hex[:8]}"
    subscribers = await start_clients(lb_url(cluster), topic, GATEWAYS)
    publisher = await ResumingClient(lb_url(cluster), name="pub").start()
    try:
        assert {c.node for c in subscribers} == {g.name for g in cluster.gateways}
        seqs = [(await publisher.pub(topic, {"n": i}, f"m{i}"))["seq"] for i in range(20)]
        for client in subscribers:
            await client.wait_msgs(topic, 20)
            assert_exactly_once(client, topic, seqs, first_prev=0)
            assert client.frames("error") == []
    finally:
        await close_all([*subscribers, publisher])


async def test_sigkilled_gateway_leaves_haproxy_within_ttl_and_its_clients_resume(
    cluster: LocalCluster,
) -> None:
    url = lb_url(cluster)
    topic = f"t.{uuid4().hex[:8]}"
    loop = asyncio.get_running_loop()
    subscribers = await start_clients(url, topic, SUBSCRIBERS)
    publisher = StreamPublisher(await ResumingClient(url, name="pub").start(), topic, interval=0.02)
    publishing = asyncio.create_task(publisher.run())
    clients = [*subscribers, publisher.client]
    try:
        for client in subscribers:
            await client.wait_msgs(topic, 10)
        victim = next(g for g in cluster.gateways if g.name == subscribers[0].node)
        on_victim = [c for c in subscribers if c.node == victim.name]

        killed_at = loop.time()
        await asyncio.to_thread(victim.kill)
        probes: list[tuple[float, asyncio.Task[str | None]]] = []
        consul_gone = lb_gone = None
        assert cluster.haproxy is not None
        async with aiohttp.ClientSession() as http:
            for _ in range(MAX_PROBES):  # bounded in count and, below, in time
                now = loop.time() - killed_at
                if now > FAILOVER_BOUND + 1.5:
                    break
                probes.append((now, asyncio.create_task(probe(http, url))))
                if consul_gone is None:
                    passing = await asyncio.to_thread(consul_passing, cluster)
                    consul_gone = None if victim.name in passing else now
                if lb_gone is None:
                    server = await asyncio.to_thread(cluster.haproxy.server_at, victim.port)
                    lb_gone = now if server is None or not server.up else None
                await asyncio.sleep(PROBE_INTERVAL)
            answers = [(at, await task) for at, task in probes]

        failed = [at for at, node in answers if node is None or node == victim.name]
        last_failure = max(failed, default=0.0)
        print(
            f"\nHAProxy failover after SIGKILL of {victim.name}: last failed new connection "
            f"started at {last_failure:.2f} s ({len(failed)} of {len(answers)} probes failed); "
            f"HAProxy marked it not UP at {lb_gone} s; Consul stopped listing it at "
            f"{consul_gone} s (bound {FAILOVER_BOUND:.1f} s)"
        )
        assert victim.name not in {node for _, node in answers}
        late = [(at, node) for at, node in answers if at > FAILOVER_BOUND and node is None]
        assert not late, f"new connections still failing after {FAILOVER_BOUND} s: {late[:5]}"
        assert lb_gone is not None
        assert lb_gone <= FAILOVER_BOUND

        # The victim's clients came back through HAProxy on the survivors.
        for client in on_victim:
            await client.wait_moved_off(victim.name)
        await publisher.publish_more(20, 15)
        publisher.stop.set()
        await asyncio.wait_for(publishing, 15)
        for client in subscribers:
            await client.wait_seqs(topic, publisher.seqs)
            assert_exactly_once(client, topic, publisher.seqs, first_prev=0)
            assert client.frames("error") == []
        assert len(publisher.seqs) == len(publisher.acked), "a retried mid was stored twice"
        print(
            f"{len(publisher.acked)} published, {publisher.client.resent} resent after a "
            f"close, {publisher.dups} of them acked as dup; {len(on_victim)} subscribers "
            f"moved off {victim.name}"
        )
    finally:
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)
        await close_all(clients)
