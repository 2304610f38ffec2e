"""Declaring a stream or a KV bucket while other services declare it too.

Services start together. On a JetStream cluster the create that loses the race
gets "already in use" (400), and the stream the winner created answers "not
found" (404) until its replicas formed their group. The loser must ask again,
not exit: a gateway once died at start-up that way in a network-fault test. A
scripted JetStream context stands in for the cluster here (the real calls are
covered in ``tests/integration/test_broker_jetstream.py``).
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError

from haws.common import names, streams
from haws.common.errors import StreamError
from haws.common.settings import NatsSettings


class RacingJetStream:
    """Every call answers from a script of outcomes: an exception raised, or a value."""

    def __init__(self, **script: list[Any]) -> None:
        self.script = script
        self.calls: list[str] = []

    def _next(self, call: str) -> Any:
        self.calls.append(call)
        outcome = self.script[call].pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def key_value(self, bucket: str) -> Any:
        return self._next("key_value")

    async def create_key_value(self, config: Any) -> Any:
        return self._next("create_key_value")

    async def stream_info(self, name: str) -> Any:
        return self._next("stream_info")

    async def add_stream(self, config: StreamConfig) -> Any:
        return self._next("add_stream")

    async def update_stream(self, config: StreamConfig) -> Any:
        return self._next("update_stream")


async def test_a_bucket_created_elsewhere_and_not_shown_yet_is_asked_for_again() -> None:
    bucket = object()
    js = RacingJetStream(
        key_value=[BucketNotFoundError(), BucketNotFoundError(), bucket],
        create_key_value=[BadRequestError()],
    )
    kv = await streams.ensure_kv(cast(JetStreamContext, js), names.KV_SESSIONS, NatsSettings())
    assert kv is bucket
    assert js.calls == ["key_value", "create_key_value", "key_value", "key_value"]


async def test_a_stream_created_elsewhere_and_not_shown_yet_is_declared_again() -> None:
    js = RacingJetStream(
        stream_info=[NotFoundError(), object()],
        add_stream=[BadRequestError()],
        update_stream=[NotFoundError(), object()],
    )
    await streams.ensure_stream(cast(JetStreamContext, js), NatsSettings())
    assert js.calls == [
        "stream_info",
        "add_stream",
        "update_stream",
        "stream_info",
        "update_stream",
    ]


async def test_a_bucket_that_never_appears_is_a_stream_error_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams, "DECLARE_DEADLINE", 0.0)
    js = RacingJetStream(
        key_value=[BucketNotFoundError()] * 2, create_key_value=[BadRequestError()]
    )
    with pytest.raises(StreamError, match=names.KV_SESSIONS):
        await streams.ensure_kv(cast(JetStreamContext, js), names.KV_SESSIONS, NatsSettings())
