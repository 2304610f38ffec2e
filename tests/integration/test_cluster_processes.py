"""haws.cluster starts real nats-server, Consul and HAProxy processes, and stops them."""

from __future__ import annotations

import json
import shutil
import signal
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import uuid4

import nats
import pytest

from haws.cluster import (
    ConsulAgent,
    DeadlineExceeded,
    HAProxy,
    ManagedProcess,
    NatsCluster,
    NatsServer,
    ProcessExited,
    free_ports,
    wait_until,
)
from haws.cluster.haproxy import check_config, render_config
from haws.cluster.probe import http_get, http_json

needs_haproxy = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy not on PATH")


def python_process(data_dir: Path, code: str) -> ManagedProcess:
    return ManagedProcess("py", [sys.executable, "-c", code], data_dir / "py.log")


def log_has_line(process: ManagedProcess, line: str) -> bool:
    """A whole line, so the command line echoed at the top of the log never matches."""
    return line in process.log_path.read_text().splitlines()


def test_free_ports_are_distinct() -> None:
    ports = free_ports(20)
    assert len(set(ports)) == 20


def test_wait_until_returns_value_or_raises() -> None:
    assert wait_until(lambda: 42, timeout=0) == 42
    with pytest.raises(DeadlineExceeded, match="never"):
        wait_until(lambda: False, timeout=0.05, what="never")


def test_process_that_dies_fails_readiness_fast_with_log_tail(data_dir: Path) -> None:
    process = python_process(data_dir, "print('boom: bad flag'); raise SystemExit(3)")
    process.start()
    with pytest.raises(ProcessExited, match="boom: bad flag"):
        process.wait_ready(lambda: False, timeout=30)
    assert process.returncode == 3


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(data_dir: Path) -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = python_process(data_dir, code)
    process.start()
    process.wait_ready(lambda: log_has_line(process, "ready"), timeout=10)
    assert process.stop(timeout=0.2) == -signal.SIGKILL
    assert not process.alive


def test_child_dies_with_its_parent_even_on_sigkill(data_dir: Path) -> None:
    """PDEATHSIG: a parent SIGKILLed takes its ManagedProcess children with it."""
    pid_file = data_dir / "child.pid"
    parent_code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from haws.cluster import ManagedProcess\n"
        f"child = ManagedProcess('sleeper', [sys.executable, '-c', 'import time; time.sleep(60)'],"
        f" Path({str(data_dir / 'child.log')!r}))\n"
        "child.start()\n"
        f"Path({str(pid_file)!r}).write_text(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    parent = python_process(data_dir, parent_code)
    parent.start()
    child_pid = int(wait_until(lambda: pid_file.exists() and pid_file.read_text(), timeout=10))
    assert Path(f"/proc/{child_pid}").exists()
    parent.kill()
    wait_until(lambda: not Path(f"/proc/{child_pid}").exists(), timeout=10, what="child gone")


def test_child_started_from_a_short_lived_thread_outlives_that_thread(data_dir: Path) -> None:
    """The parent-death signal follows the forking thread; children must not die with it."""
    process = python_process(data_dir, "import time; print('up', flush=True); time.sleep(60)")
    starter = threading.Thread(target=process.start)
    starter.start()
    starter.join()
    process.wait_ready(lambda: log_has_line(process, "up"), timeout=10)
    assert process.alive
    process.stop()


async def test_nats_server_serves_jetstream_and_restarts_on_the_same_port(
    nats_server: NatsServer,
) -> None:
    stream = f"T{uuid4().hex[:8]}"
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream}.>"])
        ack = await js.publish(f"{stream}.a", b"one")
        assert ack.seq == 1
    finally:
        await nc.close()

    first_pid, port = nats_server.pid, nats_server.port
    nats_server.kill()
    assert not nats_server.alive
    nats_server.start()
    assert nats_server.pid != first_pid
    assert nats_server.port == port

    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)  # the store dir survived the restart
        assert info.state.messages == 1
        assert (await js.publish(f"{stream}.a", b"two")).seq == 2
    finally:
        await nc.close()


def test_paused_nats_server_answers_again_once_resumed(nats_server: NatsServer) -> None:
    nats_server.pause()
    try:
        assert not nats_server.ready()
    finally:
        nats_server.resume()
    wait_until(nats_server.ready, timeout=10, what="NATS healthy after SIGCONT")


async def test_nats_cluster_of_three_holds_a_stream_with_three_replicas(data_dir: Path) -> None:
    with NatsCluster(data_dir, 3) as cluster:
        nc = await nats.connect(cluster.urls)
        try:
            js = nc.jetstream()
            stream = f"R{uuid4().hex[:8]}"
            info = await js.add_stream(name=stream, subjects=[f"{stream}.>"], num_replicas=3)
            assert info.config.num_replicas == 3
            assert info.cluster is not None
            assert len(info.cluster.replicas or []) == 2  # the leader plus two followers
            assert (await js.publish(f"{stream}.x", b"r3")).seq == 1
        finally:
            await nc.close()
    assert not any(server.alive for server in cluster.servers)


def test_consul_agent_is_ready_and_answers(consul_agent: ConsulAgent) -> None:
    agent_self = http_json(f"{consul_agent.http_url}/v1/agent/self")
    assert agent_self["Config"]["NodeName"] == "haws-test"
    assert http_json(f"{consul_agent.http_url}/v1/status/leader")


@needs_haproxy
def test_rendered_haproxy_config_is_valid(data_dir: Path) -> None:
    path = data_dir / "haproxy.cfg"
    ports = free_ports(3)
    path.write_text(
        render_config(
            {
                "HAWS_HAPROXY_BIND": f"127.0.0.1:{ports[0]}",
                "HAWS_HAPROXY_STATS_BIND": f"127.0.0.1:{ports[1]}",
                "HAWS_CONSUL_DNS": f"127.0.0.1:{ports[2]}",
            }
        )
    )
    check_config(path)
    text = path.read_text()
    assert "server-template gw 1-16 _haws-gateway._tcp.service.consul" in text
    assert "${" not in text


class _StubGateway(BaseHTTPRequestHandler):
    """Answers /ready and names itself, standing in for a gateway behind HAProxy."""

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "stub": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def register(consul: ConsulAgent, service: dict[str, object]) -> None:
    request = urllib.request.Request(
        f"{consul.http_url}/v1/agent/service/register",
        data=json.dumps(service).encode(),
        method="PUT",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=5) as response:
        assert response.status == 200


@pytest.fixture
def stub_gateway() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubGateway)
    thread = threading.Thread(target=server.serve_forever, name="stub-gateway")
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@needs_haproxy
def test_haproxy_finds_a_gateway_registered_in_consul(data_dir: Path, stub_gateway: int) -> None:
    """The template's Consul DNS discovery works: register, resolve, check, route."""
    with ConsulAgent(data_dir, node="haws-lb-test") as consul:
        register(
            consul,
            {"Name": "haws-gateway", "ID": "stub-1", "Address": "127.0.0.1", "Port": stub_gateway},
        )
        with HAProxy(data_dir, consul_dns=consul.dns_address, expect_servers=1) as lb:
            assert lb.servers_up() == 1
            reply = http_get(f"{lb.http_url}/through-haproxy")
            assert reply is not None
            assert reply[0] == 200
            assert json.loads(reply[1]) == {"path": "/through-haproxy", "stub": True}
