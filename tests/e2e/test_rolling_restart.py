"""Rolling restart of every gateway under a steady publish stream: nothing lost, nothing twice.

Clients connect through HAProxy only. Each node in turn is SIGTERMed (it
deregisters, sends ``reconnect`` and closes 4000 over a 1 s drain period),
replaced by a new process on the same port, and waited for until HAProxy's
check passes on it. The clients are the raw ``ResumingClient``: what they
record at the wire is what the assertions read.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from haws.cluster import ClusterSpec, LocalCluster, service_available, wait_until
from haws.cluster.probe import http_ok
from haws.cluster.process import spawn
from tests.support.line_pump import LinePump
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

GATEWAY_ARGS = ("--consul-ttl", "2", "--drain-period", "1", "--drain-timeout", "5")
GATEWAY_ENV = {"HAWS_CONSUL_TTL": "2", "HAWS_DRAIN_PERIOD": "1", "HAWS_DRAIN_TIMEOUT": "5"}
GATEWAYS = 3
SUBSCRIBERS = 6
RESTART_TIMEOUT = 40.0
HAWS = Path(sys.executable).parent / "haws"
EXPECTED_OPS = {"welcome", "ok", "ack", "msg", "recovered", "reconnect"}


@pytest.fixture
def cluster(data_dir: Path) -> Iterator[LocalCluster]:
    spec = ClusterSpec(gateways=GATEWAYS, presence=0, replay=0, gateway_args=GATEWAY_ARGS)
    with LocalCluster(data_dir, spec) as running:
        yield running


def assert_only_drain_seen(client: ResumingClient) -> None:
    """Protocol view of a graceful restart: ``reconnect`` frames, 4000 closes, nothing else."""
    assert set(client.ops()) <= EXPECTED_OPS, f"{client.name}: {set(client.ops()) - EXPECTED_OPS}"
    assert client.close_codes, f"{client.name} was never moved"
    assert set(client.close_codes) == {4000}, f"{client.name}: {client.close_codes}"
    reconnects = client.frames("reconnect")
    assert len(reconnects) == len(client.close_codes)
    assert {frame["reason"] for frame in reconnects} == {"drain"}
    assert all(frame["complete"] for frame in client.frames("recovered"))
    # A drained session stays resumable: every later welcome says so.
    assert all(conn.resumed for conn in client.connections[1:]), client.connections


async def test_rolling_restart_under_publish_stream_loses_and_duplicates_nothing(
    cluster: LocalCluster,
) -> None:
    assert cluster.haproxy is not None
    url = cluster.haproxy.ws_url
    topic = f"t.{uuid4().hex[:8]}"
    subscribers = [ResumingClient(url, [topic], name=f"sub-{i}") for i in range(SUBSCRIBERS)]
    for client in subscribers:
        await client.start()
    publisher = StreamPublisher(await ResumingClient(url, name="pub").start(), topic)
    clients = [*subscribers, publisher.client]
    publishing = asyncio.create_task(publisher.run())
    old_pids = [g.pid for g in cluster.gateways]
    try:
        for client in subscribers:
            await client.wait_msgs(topic, 10)
        steps = await asyncio.to_thread(
            cluster.rolling_restart, RESTART_TIMEOUT, progress=lambda line: print(line)
        )
        assert [s.name for s in steps] == [g.name for g in cluster.gateways]
        assert all(s.exit_code == 0 for s in steps), [s.describe() for s in steps]
        assert [g.pid for g in cluster.gateways] != old_pids
        assert all(g.pid not in old_pids for g in cluster.gateways)

        await publisher.publish_more(20, 15)
        publisher.stop.set()
        await asyncio.wait_for(publishing, 15)
        for client in subscribers:
            await client.wait_seqs(topic, publisher.seqs)
        print(
            f"\n{len(publisher.acked)} published, {publisher.client.resent} resent after a "
            f"close, {publisher.dups} of them acked as dup; "
            f"reconnects per client {[len(c.connections) - 1 for c in clients]}; "
            f"refused handshakes {sum(len(c.connect_failures) for c in clients)}"
        )
        for client in subscribers:
            assert_exactly_once(client, topic, publisher.seqs, first_prev=0)
        for client in clients:
            assert_only_drain_seen(client)
        assert len(publisher.seqs) == len(publisher.acked), "a retried mid was stored twice"
        # The duplicate window outlives every node: a retry on a new process is still a dup.
        first_mid, first_seq = next(iter(publisher.acked.items()))
        again = await publisher.client.pub(topic, {"n": 0}, first_mid)
        assert (again["seq"], again["dup"]) == (first_seq, True)
    finally:
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)
        await asyncio.gather(*(client.close() for client in clients))


@pytest.fixture
def haws_up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, dict[str, Any]]]:
    """``haws up --json`` with two gateways and HAProxy; its JSON line; killed if left running."""
    data_dir = tmp_path / "run"
    stderr_path = tmp_path / "up.stderr"
    argv = [str(HAWS), "up", "--json", "--data-dir", str(data_dir), "--gateways", "2"]
    argv += ["--presence", "0", "--replay", "0"]
    with stderr_path.open("w") as stderr:
        process = spawn(
            argv,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, **GATEWAY_ENV},
        )
    assert process.stdout is not None
    pump = LinePump(process.stdout)
    try:
        line = pump.lines.get(timeout=60)
        assert line is not None, stderr_path.read_text()
        yield process, stderr_path, json.loads(line)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        pump.join()


async def test_haws_up_restarts_its_gateways_one_by_one_on_sigusr1(
    haws_up: tuple[subprocess.Popen[str], Path, dict[str, Any]],
) -> None:
    process, stderr_path, info = haws_up
    if info["haproxy"] is None:
        pytest.skip("haws up runs without HAProxy here")
    assert info["pid"] == process.pid
    pid_file = Path(info["data_dir"]) / "up.pid"
    assert int(pid_file.read_text()) == process.pid
    topic = f"t.{uuid4().hex[:8]}"
    subscriber = await ResumingClient(info["haproxy"]["url"], [topic], name="sub").start()
    publisher = await ResumingClient(info["haproxy"]["url"], name="pub").start()
    try:
        seqs = [(await publisher.pub(topic, {"n": 0}, "before"))["seq"]]
        os.kill(process.pid, signal.SIGUSR1)
        await asyncio.to_thread(
            wait_until,
            lambda: "rolling restart done" in stderr_path.read_text(),
            RESTART_TIMEOUT,
            0.05,
            what="rolling restart done",
        )
        stderr = stderr_path.read_text()
        for gateway in info["gateways"]:
            assert f"{gateway['name']}: pid {gateway['pid']} -> " in stderr
            assert http_ok(f"{gateway['http']}/ready")
        seqs.append((await publisher.pub(topic, {"n": 1}, "after"))["seq"])
        await subscriber.wait_for(lambda: len(subscriber.msgs[topic]) >= 2, 10, "2 messages")
        assert_exactly_once(subscriber, topic, seqs, first_prev=0)
        for client in (subscriber, publisher):
            assert_only_drain_seen(client)
    finally:
        await subscriber.close()
        await publisher.close()
    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 30) == 0
    assert not pid_file.exists()
