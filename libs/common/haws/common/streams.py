"""Stream and KV declarations, in one place, idempotent from every service.

Every service calls ``ensure_stream`` at start-up; the first creates, the others
find the same config (or update it when settings changed, e.g. retention).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RePublish,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError
from nats.js.kv import KeyValue

from haws.common import names
from haws.common.errors import StreamError
from haws.common.logs import get_logger
from haws.common.settings import NatsSettings

_log = get_logger("streams")


def stream_config(settings: NatsSettings) -> StreamConfig:
    return StreamConfig(
        name=names.STREAM,
        subjects=list(names.STREAM_SUBJECTS),
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_age=settings.stream_max_age,
        max_msgs_per_subject=settings.stream_max_msgs_per_subject,
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.stream_duplicate_window,
        # Direct get lets any replica answer history reads without a consumer.
        allow_direct=True,
        # Every stored message is republished with Nats-Sequence and
        # Nats-Last-Sequence: the seq/prev chain of protocol v1.
        republish=RePublish(src=names.REPUBLISH_SOURCE, dest=names.REPUBLISH_DEST),
    )


def events_stream_config(settings: NatsSettings) -> StreamConfig:
    """``HAWS_EVENTS``: lifecycle events, JSON, one subject per event type.

    Its duplicate window is what makes a new presence leader's re-send of
    events its predecessor may already have stored harmless (ids repeat).
    """
    return StreamConfig(
        name=names.EVENTS_STREAM,
        subjects=list(names.EVENTS_SUBJECTS),
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_age=settings.events_max_age,
        max_msgs=settings.events_max_msgs,
        storage=StorageType.FILE,
        num_replicas=settings.events_replicas or settings.stream_replicas,
        duplicate_window=settings.stream_duplicate_window,
        allow_direct=True,
    )


DECLARE_DEADLINE = 30.0
"""A fresh JetStream cluster may take a while to elect its meta leader; start-up waits."""

T = TypeVar("T")


class _CreatedElsewhere(Exception):
    """Our create lost to another service's, whose stream the cluster does not show
    yet: services start together, and on a JetStream cluster a stream exists only
    once its replicas formed their group. A ``key_value`` or ``update_stream`` in that
    window answers "not found"; asked again a moment later, it finds the stream."""


async def _retrying(what: str, call: Callable[[], Awaitable[T]]) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DECLARE_DEADLINE
    delay = 0.1
    while True:
        try:
            return await call()
        except (
            NatsTimeoutError,
            NoRespondersError,
            ServiceUnavailableError,
            _CreatedElsewhere,
        ) as exc:
            if loop.time() + delay > deadline:
                raise StreamError(f"{what}: JetStream not available: {exc!r}") from exc
            _log.warning("stream.declare_retry", what=what, error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def ensure_stream(js: JetStreamContext, settings: NatsSettings) -> None:
    await _retrying(names.STREAM, lambda: _ensure_stream(js, settings))


async def ensure_events_stream(js: JetStreamContext, settings: NatsSettings) -> None:
    """Declare ``HAWS_EVENTS`` (presence writes it, the API and backends read it)."""
    await _retrying(
        names.EVENTS_STREAM, lambda: _ensure_stream(js, settings, events_stream_config(settings))
    )


async def _ensure_stream(
    js: JetStreamContext, settings: NatsSettings, config: StreamConfig | None = None
) -> None:
    config = config if config is not None else stream_config(settings)
    try:
        await js.stream_info(config.name or names.STREAM)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError:
            # Another service created it between our two calls: fall through to update.
            pass
    try:
        await js.update_stream(config)
    except NotFoundError:
        raise _CreatedElsewhere(config.name or names.STREAM) from None


async def ensure_kv(
    js: JetStreamContext, bucket: str, settings: NatsSettings, *, ttl: float | None = None
) -> KeyValue:
    return await _retrying(bucket, lambda: _ensure_kv(js, bucket, settings, ttl))


async def _ensure_kv(
    js: JetStreamContext, bucket: str, settings: NatsSettings, ttl: float | None
) -> KeyValue:
    try:
        return await js.key_value(bucket)
    except NotFoundError:
        pass
    config = KeyValueConfig(
        bucket=bucket,
        history=1,
        ttl=ttl,
        storage=StorageType.FILE,
        replicas=settings.stream_replicas,
    )
    try:
        return await js.create_key_value(config)
    except BadRequestError:
        pass  # another service created it between our two calls
    try:
        return await js.key_value(bucket)
    except NotFoundError:
        raise _CreatedElsewhere(bucket) from None
