"""The presence replica's composition: connect, declare, load, lead or follow, serve.

Resources enter one ``AsyncExitStack`` so a stop unwinds in reverse: the
endpoints stop taking requests, the leader hands its lease over, then the
HTTP health app, the KV watch and the NATS connection go.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable

from haws.common import names
from haws.common.ack_inbox import AckInbox
from haws.common.health_http import health_app, serve
from haws.common.logs import EventLogger, get_logger
from haws.common.nats_connection import NatsState, connect
from haws.common.ports import bind_listener, default_name, with_port
from haws.common.settings import nats_settings_of
from haws.common.streams import ensure_events_stream, ensure_kv
from haws.presence.emitter import ChangeEmitter, NatsChangeSink
from haws.presence.event_relay import EventRelay, JetStreamEventSink
from haws.presence.feed import IndexFeed
from haws.presence.index import PresenceIndex
from haws.presence.large_topics import CountsLimits, LargeTopics
from haws.presence.leader import Leadership, LeaderTimings
from haws.presence.lease import LeaderLease
from haws.presence.liveness import NodeLiveness
from haws.presence.metrics import PresenceMetrics
from haws.presence.ownership import Ownership
from haws.presence.service import PresenceService
from haws.presence.settings import PresenceSettings
from haws.presence.shards import ReplicaRoster, RosterLink
from haws.presence.store_kv import KvStore
from haws.presence.tombstones import Tombstones
from haws.presence.transitions import Grace


@dataclasses.dataclass(frozen=True)
class PresenceNode:
    """What a started replica shows its caller (tests read these)."""

    name: str
    settings: PresenceSettings
    metrics: PresenceMetrics
    index: PresenceIndex
    leadership: Leadership


async def _loaded_or_stopped(feed: IndexFeed, stop: asyncio.Event) -> bool:
    """Wait for the first initial load; False if asked to stop first."""
    waiters = [asyncio.create_task(feed.loaded.wait()), asyncio.create_task(stop.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    return feed.loaded.is_set() and not stop.is_set()


async def run_presence(
    settings: PresenceSettings,
    stop: asyncio.Event,
    *,
    started: Callable[[PresenceNode], None] | None = None,
) -> None:
    settings.validate()
    # Bound once, here, and served later: nobody can take the port in between.
    listener = bind_listener(settings.http_host, settings.http_port)
    settings = with_port(settings, "http_port", listener)
    name = default_name(settings.name, settings.http_port)
    log = get_logger("presence", replica=name)
    metrics = PresenceMetrics()
    index = PresenceIndex()
    liveness = NodeLiveness()
    tombstones = Tombstones()
    connected = False
    serving = False
    feed: IndexFeed | None = None
    leadership: Leadership | None = None

    async def on_nats_state(state: NatsState) -> None:
        nonlocal connected
        connected = state in ("connected", "reconnected")
        if state == "reconnected":
            # Heartbeats and KV updates may have been missed while disconnected.
            if feed is not None:
                feed.resync()
            if leadership is not None:
                leadership.allow_all()

    def not_ready() -> str | None:
        if not connected:
            return "nats disconnected"
        if feed is None or not feed.loaded.is_set():
            return "loading presence records"
        if not serving:
            return "starting"
        return None

    grace = grace_of(settings)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(listener.close)  # if serving never started (serving closes it too)
        nats_settings = nats_settings_of(settings)
        nc = await connect(nats_settings, name=f"haws-presence {name}", on_state=on_nats_state)
        stack.push_async_callback(nc.close)
        js = nc.jetstream(timeout=settings.request_timeout)
        kv = await ensure_kv(js, names.KV_PRESENCE, nats_settings)
        await ensure_events_stream(js, nats_settings)
        acks = AckInbox(nc)
        await acks.start()
        stack.push_async_callback(acks.stop)
        store = KvStore(js, kv, names.KV_PRESENCE, acks, nc=nc, timeout=settings.request_timeout)
        sink = NatsChangeSink(nc, flush_timeout=settings.request_timeout)
        large = LargeTopics(
            index,
            CountsLimits(
                counts_from=settings.presence_counts_from,
                interval=settings.presence_counts_interval,
                sample=settings.presence_sample,
            ),
            grace=grace,
        )
        shards = settings.presence_shards
        emitter = ChangeEmitter(
            sink, metrics, log, log_size=settings.change_log_size, large=large, shards=shards
        )
        relay = EventRelay(
            JetStreamEventSink(acks, timeout=settings.request_timeout),
            log,
            registry=metrics.registry,
            resend_window=settings.events_resend_window,
            log_size=settings.change_log_size,
            shards=shards,
        )
        roster: RosterLink | None = None
        if shards > 1:
            roster = RosterLink(
                nc, ReplicaRoster(name, timeout=settings.leader_ttl), log, shards=shards
            )
            await roster.start()
            stack.push_async_callback(roster.stop)
        feed = IndexFeed(store, index, emitter, tombstones, log, relay=relay)
        feed.start()
        stack.push_async_callback(feed.stop)
        runner = await serve(health_app(not_ready, metrics.registry), listener)
        stack.push_async_callback(runner.cleanup)
        if not await _loaded_or_stopped(feed, stop):
            log.info("presence.stopped_while_loading")
            return
        ownership = Ownership(
            store, index, metrics, log, grace=grace, attempts=settings.cas_attempts
        )
        leadership = _leadership(
            settings,
            name,
            store,
            emitter,
            index,
            liveness,
            ownership,
            tombstones,
            metrics,
            log,
            grace,
            relay,
            roster,
        )
        leadership.start()
        stack.push_async_callback(leadership.stop)
        relay.start()
        stack.push_async_callback(relay.stop, settings.request_timeout)
        service = PresenceService(
            nc,
            index=index,
            ownership=ownership,
            liveness=liveness,
            leadership=leadership,
            large=large,
            metrics=metrics,
            log=log,
            grace=grace,
            heartbeat_timeout=settings.heartbeat_timeout,
            max_inflight=settings.max_inflight,
            request_timeout=settings.request_timeout,
        )
        await service.start()
        stack.push_async_callback(service.stop)
        serving = True
        log.info("presence.ready", http=f"http://{settings.http_host}:{settings.http_port}")
        if started is not None:
            started(PresenceNode(name, settings, metrics, index, leadership))
        await stop.wait()
        log.info("presence.stopping")
    log.info("presence.stopped")


def grace_of(settings: PresenceSettings) -> Grace:
    return Grace(closed=settings.grace, node_dead=settings.node_dead_grace)


def _leadership(
    settings: PresenceSettings,
    name: str,
    store: KvStore,
    emitter: ChangeEmitter,
    index: PresenceIndex,
    liveness: NodeLiveness,
    ownership: Ownership,
    tombstones: Tombstones,
    metrics: PresenceMetrics,
    log: EventLogger,
    grace: Grace,
    relay: EventRelay | None = None,
    roster: RosterLink | None = None,
) -> Leadership:
    shards = settings.presence_shards

    def eligible(shard: int) -> Callable[[], bool]:
        if roster is None:
            return lambda: True
        return lambda: roster.roster.prefers_me(shard)

    leases = [
        LeaderLease(
            store,
            log,
            holder=name,
            ttl=settings.leader_ttl,
            key=names.presence_leader_key(shard, shards),
            eligible=eligible(shard),
        )
        for shard in range(shards)
    ]
    timings = LeaderTimings(
        heartbeat_timeout=settings.heartbeat_timeout,
        grace=grace,
        sweep_interval=settings.sweep_interval,
        tombstone_age=settings.tombstone_age,
        flush_timeout=settings.request_timeout,
    )
    return Leadership(
        leases=leases,
        emitter=emitter,
        index=index,
        liveness=liveness,
        ownership=ownership,
        tombstones=tombstones,
        store=store,
        metrics=metrics,
        log=log,
        timings=timings,
        relay=relay,
        roster=roster.roster if roster is not None else None,
        announce=roster.announce if roster is not None else None,
    )
