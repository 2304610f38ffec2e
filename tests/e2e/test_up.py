"""``haws up`` end to end: the real command, its JSON line, messages across nodes, clean exits.

Each test runs ``haws up`` as a child and checks afterwards that nothing it
started is still running, found by pid and by a scan of /proc for the run's
data folder (in a command line or in the ``HAWS_CLUSTER_DIR`` environment).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiohttp
import pytest

from haws.cluster import service_available, wait_until
from haws.cluster.component import RUN_DIR_ENV
from haws.cluster.process import spawn
from tests.support.line_pump import LinePump

HAWS = Path(sys.executable).parent / "haws"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
GONE_TIMEOUT = 10.0
REPLY_TIMEOUT = 10.0

needs_gateway = pytest.mark.skipif(
    not service_available("gateway"), reason="haws.gateway is not written yet"
)


def pid_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (any parent's child)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def processes_of(data_dir: Path) -> list[int]:
    """Every running process whose command line or environment names ``data_dir``."""
    needle = str(data_dir).encode()
    marker = f"{RUN_DIR_ENV}={data_dir.resolve()}\0".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes() + b"\0"
        except OSError:
            continue
        if (needle in cmdline or marker in environ) and pid_running(int(proc.name)):
            found.append(int(proc.name))
    return found


@dataclass
class UpRun:
    """One ``haws up --json`` child, its JSON line and the pids it reported."""

    process: subprocess.Popen[str]
    data_dir: Path
    stderr_path: Path
    pump: LinePump
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def lines(self) -> queue.Queue[str | None]:
        return self.pump.lines

    def read_info(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            pytest.fail(f"haws up printed nothing in {START_TIMEOUT} s; {self.stderr()}")
        if line is None:
            pytest.fail(f"haws up exited with {self.process.wait()}; {self.stderr()}")
        self.info = json.loads(line)
        return self.info

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def child_pids(self) -> list[int]:
        info = self.info
        parts = [*info["gateways"], *info["nats"], info["consul"], info["haproxy"]]
        parts += [*info["presence"], *info["replay"]]
        return [part["pid"] for part in parts if part is not None]

    def assert_all_gone(self) -> None:
        def gone() -> bool:
            return not any(map(pid_running, self.child_pids())) and not processes_of(self.data_dir)

        wait_until(gone, GONE_TIMEOUT, 0.05, what=f"every process of {self.data_dir} gone")


@pytest.fixture
def start_up(tmp_path: Path) -> Iterator[Any]:
    runs: list[UpRun] = []

    def start(*args: str) -> UpRun:
        """Spawn only (quick); ``read_info`` then waits for the JSON line."""
        data_dir = tmp_path / f"run{len(runs)}"
        stderr_path = tmp_path / f"up{len(runs)}.stderr"
        with stderr_path.open("w") as stderr:
            process = spawn(  # dies with us: no cluster outlives a killed test run
                [str(HAWS), "up", "--json", "--data-dir", str(data_dir), *args],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert process.stdout is not None
        run = UpRun(process, data_dir, stderr_path, LinePump(process.stdout))
        runs.append(run)
        return run

    yield start
    for run in runs:  # a failed test must not leave a cluster behind
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        run.pump.join()


async def next_op(ws: aiohttp.ClientWebSocketResponse, op: str) -> dict[str, Any]:
    """The next frame with ``op``, skipping others; an ``error`` frame fails the test."""
    async with asyncio.timeout(REPLY_TIMEOUT):
        while True:
            frame = await ws.receive_json()
            if frame.get("op") == "error":
                pytest.fail(f"waiting for {op}, got {frame}")
            if frame.get("op") == op:
                return dict(frame)


async def hello(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(url)
    await ws.send_json({"op": "hello", "v": 1})
    welcome = await next_op(ws, "welcome")
    assert welcome["session"]
    return ws


async def assert_message_crosses(http: aiohttp.ClientSession, sub_url: str, pub_url: str) -> None:
    """A subscriber on one URL receives what a publisher on another URL sends."""
    topic = f"t.{uuid4().hex}"
    subscriber = await hello(http, sub_url)
    publisher = await hello(http, pub_url)
    try:
        await subscriber.send_json({"op": "sub", "id": 1, "topic": topic})
        ok = await next_op(subscriber, "ok")
        assert ok["id"] == 1
        await publisher.send_json({"op": "pub", "id": 2, "topic": topic, "data": {"x": 1}})
        ack = await next_op(publisher, "ack")
        assert ack["id"] == 2
        assert ack["seq"] >= 1
        msg = await next_op(subscriber, "msg")
        assert msg["topic"] == topic
        assert msg["seq"] == ack["seq"]
        assert msg["prev"] == 0
        assert msg["data"] == {"x": 1}
    finally:
        await subscriber.close()
        await publisher.close()


def stop_and_check(run: UpRun, signum: int) -> None:
    run.process.send_signal(signum)
    assert run.process.wait(timeout=STOP_TIMEOUT) == 0, run.stderr()
    run.assert_all_gone()
    assert run.lines.get(timeout=STOP_TIMEOUT) is None, "haws up printed more than one line"


@needs_gateway
async def test_up_carries_messages_between_gateways_and_stops_on_sigterm(start_up: Any) -> None:
    run: UpRun = start_up("--gateways", "2")
    info = await asyncio.to_thread(run.read_info)
    assert len(info["gateways"]) == 2
    assert all(map(pid_running, run.child_pids()))
    async with aiohttp.ClientSession() as http:
        for gateway in info["gateways"]:
            async with http.get(f"{gateway['http']}/ready") as response:
                assert response.status == 200
        first, second = (gateway["url"] for gateway in info["gateways"])
        await assert_message_crosses(http, first, second)
        if info["haproxy"] is not None:
            await assert_message_crosses(http, info["haproxy"]["url"], info["haproxy"]["url"])
    await asyncio.to_thread(stop_and_check, run, signal.SIGTERM)


def test_up_without_gateways_stops_on_sigint(start_up: Any) -> None:
    run: UpRun = start_up("--gateways", "0", "--no-haproxy")
    info = run.read_info()
    assert info["gateways"] == []
    assert info["haproxy"] is None
    assert all(map(pid_running, run.child_pids()))
    # A part that dies is reported on stderr while the rest keep running.
    nats_pid = info["nats"][0]["pid"]
    os.kill(nats_pid, signal.SIGKILL)
    wait_until(lambda: f"(pid {nats_pid}) exited" in run.stderr(), 10, what="death reported")
    assert pid_running(info["consul"]["pid"])
    assert run.process.poll() is None
    stop_and_check(run, signal.SIGINT)


def test_children_die_when_up_is_sigkilled(start_up: Any) -> None:
    gateways = "1" if service_available("gateway") else "0"
    run: UpRun = start_up("--gateways", gateways)
    run.read_info()
    pids = run.child_pids()
    assert all(map(pid_running, pids))
    run.process.kill()
    run.process.wait(timeout=STOP_TIMEOUT)
    run.assert_all_gone()


def test_haws_help_lists_every_command() -> None:
    result = subprocess.run([str(HAWS), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for command in ("gateway", "presence", "replay", "up"):
        assert f"  {command}" in result.stdout


@needs_gateway
async def test_up_with_jwt_auth_prints_a_token_the_gateways_accept(start_up: Any) -> None:
    run: UpRun = start_up(
        "--gateways", "1", "--presence", "0", "--replay", "0", "--no-haproxy", "--auth", "jwt"
    )
    info = await asyncio.to_thread(run.read_info)
    url = info["gateways"][0]["url"]
    async with aiohttp.ClientSession() as http:
        anonymous = await http.ws_connect(url)
        await anonymous.send_json({"op": "hello", "v": 1})
        async with asyncio.timeout(REPLY_TIMEOUT):
            await anonymous.receive()
        assert anonymous.close_code == 4001
        authorised = await http.ws_connect(url)
        await authorised.send_json({"op": "hello", "v": 1, "token": info["token"]})
        assert (await next_op(authorised, "welcome"))["session"]
        await authorised.close()
    # The secret reaches the gateway through its environment, not its command line.
    cmdline = await asyncio.to_thread(
        Path(f"/proc/{info['gateways'][0]['pid']}/cmdline").read_bytes
    )
    assert b"secret" not in cmdline
    await asyncio.to_thread(stop_and_check, run, signal.SIGTERM)
