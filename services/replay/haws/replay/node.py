"""The replay replica's composition: connect, declare, serve; stop in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable

from haws.common.health_http import health_app, serve
from haws.common.logs import get_logger
from haws.common.nats_connection import NatsState, connect
from haws.common.ports import bind_listener, default_name, with_port
from haws.common.settings import nats_settings_of
from haws.common.stream_reader import StreamReader
from haws.common.streams import ensure_stream
from haws.replay.metrics import ReplayMetrics
from haws.replay.service import ReplayService
from haws.replay.settings import ReplaySettings
from haws.replay.tail import TailLimits, Tails
from haws.replay.tail_feed import TailFeed


@dataclasses.dataclass(frozen=True)
class ReplayNode:
    """What a started replica shows its caller (tests read the metrics)."""

    name: str
    settings: ReplaySettings
    metrics: ReplayMetrics
    tails: Tails | None


async def run_replay(
    settings: ReplaySettings,
    stop: asyncio.Event,
    *,
    started: Callable[[ReplayNode], None] | None = None,
) -> None:
    # Bound once, here, and served later: nobody can take the port in between.
    listener = bind_listener(settings.http_host, settings.http_port)
    settings = with_port(settings, "http_port", listener)
    name = default_name(settings.name, settings.http_port)
    log = get_logger("replay", node=name)
    metrics = ReplayMetrics()
    connected = False

    async def on_nats_state(state: NatsState) -> None:
        nonlocal connected
        connected = state in ("connected", "reconnected")

    def not_ready() -> str | None:
        return None if connected else "nats disconnected"

    async with contextlib.AsyncExitStack() as stack:
        stack.callback(listener.close)  # if serving never started (serving closes it too)
        nats_settings = nats_settings_of(settings)
        nc = await connect(nats_settings, name=f"haws-replay {name}", on_state=on_nats_state)
        stack.push_async_callback(nc.close)
        await ensure_stream(nc.jetstream(timeout=settings.request_timeout), nats_settings)
        reader = StreamReader(nc, timeout=settings.request_timeout)
        await reader.start()
        stack.push_async_callback(reader.stop)
        tails = tails_of(settings)
        if tails is not None:
            feed = TailFeed(nc, tails, metrics, log)
            await feed.start()
            stack.push_async_callback(feed.stop)
            metrics.tail_bytes.set_function(lambda: tails.bytes)
            metrics.tail_topics.set_function(lambda: len(tails))
        service = ReplayService(
            nc, reader, metrics, log, max_inflight=settings.max_inflight, tails=tails
        )
        await service.start()
        stack.push_async_callback(service.stop)
        runner = await serve(health_app(not_ready, metrics.registry), listener)
        stack.push_async_callback(runner.cleanup)
        log.info("replay.ready", http=f"http://{settings.http_host}:{settings.http_port}")
        if started is not None:
            started(ReplayNode(name, settings, metrics, tails))
        await stop.wait()
        log.info("replay.stopping")
    log.info("replay.stopped")


def tails_of(settings: ReplaySettings) -> Tails | None:
    """The tail these settings ask for, None when it is off. Never longer per topic
    or older than the stream keeps: it must not serve what retention removed."""
    limits = TailLimits(
        messages=min(settings.tail_messages, settings.stream_max_msgs_per_subject),
        bytes=settings.tail_bytes,
        max_age_ms=int(settings.stream_max_age * 1000),
    )
    tails = Tails(limits)
    return tails if tails.enabled else None
