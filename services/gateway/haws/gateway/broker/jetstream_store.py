"""``MessageStore`` on the HAWS stream: ``ack`` only after JetStream's PubAck.

``mid`` becomes ``Nats-Msg-Id``, so a retry inside the duplicate window returns
the original seq with ``duplicate`` set and stores nothing new. The PubAck is
awaited on the gateway's ``AckInbox`` (one per client ``pub``), not through
``JetStreamContext.publish``'s request (a NUID, ``wait_for`` and a ``PubAck``).
"""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.errors import APIError
from opentelemetry.trace import SpanKind

from haws.common import names
from haws.common.ack_inbox import AckInbox
from haws.common.telemetry import inject_headers, tracer
from haws.protocol.codec import encode_payload
from haws.protocol.errors import Internal, Unavailable

_tracer = tracer("gateway")


class JetStreamStore:
    def __init__(self, nc: NatsClient, acks: AckInbox, *, timeout: float) -> None:
        self._nc = nc
        self._acks = acks
        self._timeout = timeout

    async def publish(
        self, topic: str, data: Any, *, mid: str | None, sender: str | None, request_id: int
    ) -> tuple[int, bool]:
        """Store one message; returns ``(seq, duplicate)``.

        While NATS is away the publish fails at once: nats-py would otherwise
        buffer it and store it after the reconnect, after the client was told
        ``unavailable``. (A timeout while connected can still hide a stored
        message; that is what retrying with the same ``mid`` is for.)
        """
        if not self._nc.is_connected:
            raise Unavailable("message not stored: broker disconnected", request_id=request_id)
        with _tracer.start_as_current_span(
            "haws.pub", kind=SpanKind.PRODUCER, attributes={"haws.topic": topic}
        ) as span:
            seq, dup = await self._store(topic, data, mid, sender, request_id)
            span.set_attribute("haws.seq", seq)
            span.set_attribute("haws.dup", dup)
            return seq, dup

    async def _store(
        self, topic: str, data: Any, mid: str | None, sender: str | None, request_id: int
    ) -> tuple[int, bool]:
        headers: dict[str, str] = {}
        if mid is not None:
            headers[names.HDR_MSG_ID] = mid
        if sender is not None:
            headers[names.HDR_FROM] = sender
        # The trace context travels with the stored message: the delivering node,
        # whichever it is, continues this trace.
        inject_headers(headers)
        try:
            body = encode_payload(data)
        except (TypeError, ValueError) as exc:
            raise Internal(f"cannot store data: {exc}", request_id=request_id) from None
        try:
            return await self._acks.publish_once(
                names.topic_subject(topic), body, headers, self._timeout
            )
        except APIError as exc:
            raise Unavailable(
                f"message not stored: {exc.description}", request_id=request_id
            ) from None
        except (NatsError, TimeoutError, OSError) as exc:
            # Whatever the broker did (closed, reconnecting, a stream leader moving,
            # no ack in time), the client is told to retry with the same mid: the
            # dedupe window makes a retry of a message that was stored harmless.
            raise Unavailable(
                f"message not stored: {type(exc).__name__}", request_id=request_id
            ) from None
