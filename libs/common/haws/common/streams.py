"""Stream and KV declarations, in one place, idempotent from every service.

Every service calls ``ensure_stream`` at start-up; the first creates, the others
find the same config (or update it when settings changed, e.g. retention).
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RePublish,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue

from haws.common import names
from haws.common.settings import NatsSettings


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


async def ensure_stream(js: JetStreamContext, settings: NatsSettings) -> None:
    config = stream_config(settings)
    try:
        await js.stream_info(names.STREAM)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError:
            # Another service created it between our two calls: fall through to update.
            pass
    await js.update_stream(config)


async def ensure_kv(
    js: JetStreamContext, bucket: str, settings: NatsSettings, *, ttl: float | None = None
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
        return await js.key_value(bucket)
