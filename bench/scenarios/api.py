"""The server API: publish throughput and latency per door, and lifecycle events per second.

``api-publish-N``: one gateway, one presence replica and one ``haws api`` replica
(processes). N publishes to one topic, ``IN_FLIGHT`` at a time, three ways in
the same run: HTTP ``POST /api/v1/publish``, NATS ``haws.api.v1.publish``, and a
client ``pub`` on a WebSocket (the baseline: the path the API must match).
Each is answered after JetStream stored the message. Figures: messages per
second and p99 request->answer in ms.

``api-events-M``: M raw clients connect at once (``connect_concurrency`` in
flight); the clock runs from the first connect until ``HAWS_EVENTS`` holds M
more ``connect`` events. Figure: events written per second during the storm.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import nats
from nats.aio.client import Client as NatsClient

from bench.figures import Figure, Role, why
from bench.lab import Lab
from bench.scenarios.traffic import new_topic
from bench.systems import Skipped
from bench.systems.haws import HawsStack
from haws.cluster import service_available
from haws.cluster.services import ApiService, backend_service
from haws.common import names

NAME = "api"
PUBLISHES = {"tiny": 200, "quick": 500, "full": 20_000}
STORM = {"tiny": 100, "quick": 200, "full": 1_000}
IN_FLIGHT = 32
KEY = "bench-api-key"
EVENTS_TIMEOUT = 120.0
_runs = itertools.count(1)
UNLIMITED_API = ["--rate", "1000000", "--burst", "1000000"]
"""The bench measures the path, not the rate limit."""

Call = Callable[[int], Awaitable[None]]


def run(lab: Lab) -> list[Figure]:
    if not lab.wants("haws"):
        return []
    mode = lab.sizes.name
    figures: list[Figure] = []
    n = PUBLISHES[mode]
    scenario = f"{NAME}-publish-{n}"
    print(f"  {scenario} haws (http, nats, client pub) ...", flush=True)
    try:
        with _stack(lab) as (stack, api):
            results = lab.run(_publishes(stack, api, n))
        for system, details in results.items():
            role: Role = "baseline" if system == "client-pub" else "subject"
            figures.append(
                Figure(scenario, "msgs/s", system, details["per_s"], "msg/s", role=role,
                       details=details)
            )  # fmt: skip
            figures.append(
                Figure(scenario, "p99", system, details["p99_ms"], "ms", better="lower",
                       role=role, details=details)
            )  # fmt: skip
    except Exception as exc:  # reported in the table, the run goes on
        for system in ("haws-api-http", "haws-api-nats"):
            figures.append(Figure(scenario, "msgs/s", system, None, "msg/s", skipped=why(exc)))
    m = STORM[mode]
    scenario = f"{NAME}-events-{m}"
    print(f"  {scenario} haws ...", flush=True)
    try:
        with _stack(lab) as (stack, _):
            details = lab.run(_storm(lab, stack, m))
        figures.append(
            Figure(scenario, "events/s", "haws", details["per_s"], "ev/s", details=details)
        )
    except Exception as exc:
        figures.append(Figure(scenario, "events/s", "haws", None, "ev/s", skipped=why(exc)))
    return figures


@contextlib.contextmanager
def _stack(lab: Lab) -> Iterator[tuple[HawsStack, ApiService]]:
    if not (service_available("presence") and service_available("api")):
        raise Skipped("the presence or api service is not installed")
    infra = lab.infra()
    run_id = next(_runs)
    stack = HawsStack(infra, gateways=1, extra_args=lab.options.gateway_args)
    stack.backends.append(
        backend_service(infra.data_dir, "presence", name=f"presence-api-{run_id}",
                        nats_url=infra.nats.url)
    )  # fmt: skip
    api = ApiService(
        infra.data_dir,
        name=f"api-{run_id}",
        nats_url=infra.nats.url,
        consul_http=infra.consul.http_url,
        key=KEY,
    )
    api.args += UNLIMITED_API
    stack.backends.append(api)
    lab.wait_quiet()
    stack.start()
    try:
        yield stack, api
    finally:
        stack.stop()


async def _timed(n: int, call: Call) -> dict[str, Any]:
    """``n`` calls, ``IN_FLIGHT`` at once; throughput and latency percentiles."""
    latencies: list[float] = []
    counter = itertools.count()

    async def lane() -> None:
        while (i := next(counter)) < n:
            sent = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(lane() for _ in range(IN_FLIGHT))), timeout=300)
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "count": n,
        "seconds": round(elapsed, 3),
        "per_s": round(n / elapsed, 1),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 2),
        "in_flight": IN_FLIGHT,
    }


async def _publishes(stack: HawsStack, api: ApiService, n: int) -> dict[str, dict[str, Any]]:
    topic = new_topic(NAME)
    payload = {"text": "x" * 64}
    results: dict[str, dict[str, Any]] = {}
    headers = {"Authorization": f"Bearer {KEY}"}
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as http:

        async def over_http(i: int) -> None:
            body = {"topic": topic, "data": payload}
            async with http.post(f"{api.url}/publish", json=body) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP publish answered {response.status}")
                await response.read()

        results["haws-api-http"] = await _timed(n, over_http)

    nc: NatsClient = await nats.connect(stack.infra.nats.url)
    try:
        request = json.dumps({"topic": topic, "data": payload}).encode()
        subject = names.api_subject("publish")

        async def over_nats(i: int) -> None:
            reply = await nc.request(subject, request, timeout=10)
            if b'"error"' in reply.data:
                raise RuntimeError(reply.data.decode())

        results["haws-api-nats"] = await _timed(n, over_nats)
    finally:
        await nc.close()

    results["client-pub"] = await _client_pubs(f"ws://127.0.0.1:{stack.gateways[0].port}/ws",
                                               topic, payload, n)  # fmt: skip
    return results


async def _client_pubs(url: str, topic: str, payload: Any, n: int) -> dict[str, Any]:
    """The baseline: a WebSocket client's ``pub`` -> ``ack``, the same in-flight count."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json({"op": "hello", "v": 1})
        waiting: dict[int, asyncio.Future[None]] = {}
        welcomed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def read() -> None:
            async for message in ws:
                for line in str(message.data).splitlines():
                    frame = json.loads(line)
                    if frame.get("op") == "welcome" and not welcomed.done():
                        welcomed.set_result(None)
                    future = waiting.pop(frame.get("id", -1), None)
                    if future is not None and not future.done():
                        future.set_result(None)

        reader = asyncio.create_task(read())
        try:
            await asyncio.wait_for(welcomed, 10)

            async def pub(i: int) -> None:
                future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                waiting[i + 1] = future
                await ws.send_json({"op": "pub", "id": i + 1, "topic": topic, "data": payload})
                await asyncio.wait_for(future, 10)

            return await _timed(n, pub)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def _events_stored(nc: NatsClient) -> int:
    info = await nc.jetstream().stream_info(names.EVENTS_STREAM)
    return int(info.state.messages)


async def _storm(lab: Lab, stack: HawsStack, m: int) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{stack.gateways[0].port}/ws"
    nc: NatsClient = await nats.connect(stack.infra.nats.url)
    before = await _events_stored(nc)
    slots = asyncio.Semaphore(lab.sizes.connect_concurrency)
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    failed = 0
    # limit=0: every WebSocket holds its connection, and the default pool stops at 100.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(i: int) -> None:
            nonlocal failed
            async with slots:
                try:
                    ws = await session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=2))
                    sockets.append(ws)
                    await ws.send_json({"op": "hello", "v": 1, "session": f"b{uuid.uuid4().hex}"})
                    await asyncio.wait_for(ws.receive(), 10)  # the welcome
                except (aiohttp.ClientError, TimeoutError):
                    failed += 1

        started = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(m))), EVENTS_TIMEOUT)
            print(f"    {len(sockets)} connected ({failed} failed)", flush=True)
            deadline = started + EVENTS_TIMEOUT
            stored = before
            while time.perf_counter() < deadline:
                stored = await _events_stored(nc)
                if stored - before >= m - failed:
                    break
                await asyncio.sleep(0.02)  # polling the stream's count, bounded by the deadline
            elapsed = time.perf_counter() - started
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
            await nc.close()
    written = stored - before
    return {
        "clients": m,
        "open_failed": failed,
        "events": written,
        "seconds": round(elapsed, 3),
        "per_s": round(written / elapsed, 1) if elapsed > 0 else None,
    }
