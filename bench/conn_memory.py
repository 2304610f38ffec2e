"""Memory of one idle connection, by the code that allocated it.

``python -m bench.conn_memory [--connections N] [--presence on|off]``

The capacity scenario reads the gateway's RSS; this probe says where it goes.
It runs a real gateway (``run_gateway``, against a real nats-server and Consul,
with a presence replica process when presence is on) in its own event loop under
``tracemalloc``, opens N idle connections from a client subprocess (greeting
done, no subscription, as in capacity), and prints the traced bytes per
connection: the total, and by the gateway line that caused each allocation (the
innermost ``haws`` frame of its traceback; aiohttp's and asyncio's own lines
when no haws frame is on it). Traced bytes leave out the allocator's overhead
and the kernel's socket buffers: RSS per connection is larger.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import sys
import tempfile
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from haws.cluster import ConsulAgent, NatsServer
from haws.cluster.component import Component
from haws.cluster.services import backend_service

FRAMES = 12
"""Traceback depth kept per allocation: enough to reach the haws frame below aiohttp's."""


async def _client(url: str, n: int) -> None:
    from bench.loadgen.crowd import close_all, open_all
    from bench.loadgen.dialects import Dialect
    from bench.loadgen.peer import Peer

    peers = [Peer(Dialect()) for _ in range(n)]
    opened = await open_all(peers, [url], concurrency=64)
    print(f"open {n - opened.failed} {opened.first_error}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await close_all(peers)


def _site(trace: tracemalloc.Traceback) -> str:
    """The allocating line, and the innermost haws line below it when that is another."""
    frames = list(trace)  # oldest first
    top = frames[-1]
    where = f"{_short(top.filename)}:{top.lineno}"
    if "/haws/" in top.filename:
        return where
    for frame in reversed(frames):
        if "/haws/" in frame.filename:
            return f"{where} <- {_short(frame.filename)}:{frame.lineno}"
    return f"{where} (no haws frame)"


def _short(filename: str) -> str:
    for marker in ("/haws/", "/site-packages/", "/lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


@contextlib.contextmanager
def _infra(presence: bool) -> Iterator[tuple[NatsServer, ConsulAgent]]:
    with tempfile.TemporaryDirectory(prefix="haws-conn-memory-") as tmp:
        root = Path(tmp)
        consul_agent = ConsulAgent(root / "consul", node="probe")
        with NatsServer(root / "nats") as nats, consul_agent as consul:
            replica: Component | None = None
            if presence:
                replica = backend_service(
                    root, "presence", name="presence-probe", nats_url=nats.url
                )
                replica.spawn()
                replica.wait_ready(30.0)
            try:
                yield nats, consul
            finally:
                if replica is not None:
                    replica.stop()


async def _probe(n: int, presence: bool, top: int) -> None:
    from haws.gateway.deps import GatewayDeps
    from haws.gateway.service import run_gateway
    from haws.gateway.settings import GatewaySettings

    with _infra(presence) as (nats, consul):
        settings = GatewaySettings(
            nats_url=(nats.url,),
            consul_http=consul.http_url,
            host="127.0.0.1",
            port=0,
            max_connections=0,
            max_connections_per_ip=0,
            command_rate=0,
            drain_period=0.5,
            drain_timeout=5.0,
        )
        stop = asyncio.Event()
        ready: asyncio.Future[GatewayDeps] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_gateway(settings, stop, started=ready.set_result))
        deps = await asyncio.wait_for(ready, 30)
        s = deps.settings
        url = f"ws://{s.host}:{s.port}"
        client = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.conn_memory",
            "--client",
            url,
            "--connections",
            str(n),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert client.stdin is not None
        assert client.stdout is not None
        try:
            gc.collect()
            before = tracemalloc.take_snapshot()
            line = (await asyncio.wait_for(client.stdout.readline(), 120)).decode().split()
            opened = int(line[1])
            if not opened:
                raise RuntimeError(f"no connection opened: {' '.join(line)}")
            await asyncio.sleep(2.0)  # settled: handshakes and claims done
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            client.stdin.write(b"\n")
            await client.stdin.drain()
            await asyncio.wait_for(client.wait(), 60)
            stop.set()
            await asyncio.wait_for(task, 30)
    stats = after.compare_to(before, "traceback")
    by_site: dict[str, int] = defaultdict(int)
    total = 0
    for stat in stats:
        by_site[_site(stat.traceback)] += stat.size_diff
        total += stat.size_diff
    print(f"presence {'on' if presence else 'off'}: {opened} idle connections")
    print(f"traced: {total / opened / 1024:.2f} KiB per connection")
    for site, size in sorted(by_site.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {size / opened:8.0f} B  {site}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.conn_memory", description=__doc__)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--presence", choices=("on", "off"), default="off")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_client(args.client, args.connections))
        return
    import uvloop  # as the gateway runs (``haws.common.entrypoint``)

    tracemalloc.start(FRAMES)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_probe(args.connections, args.presence == "on", args.top))


if __name__ == "__main__":
    main()
