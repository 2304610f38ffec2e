"""NATS messages of chosen subscriptions as raw header bytes, past nats-py's per-message work.

A history page is up to 1000 direct-get replies. nats-py turns each into a ``Msg``
with a parsed header dict and hands it through a queue to a per-subscription task;
in the replay service that was two thirds of the CPU per replayed message (the
header dict alone 40 %). nats-py has no public hook for raw messages, so ``RawTap``
wraps one client's ``_process_msg``: messages of the subscription ids routed to it
go to a plain function as (subject, header block, payload); every other message
takes nats-py's path after one dict lookup. ``tap_for`` returns None when the
client does not look like the nats-py this was written against (2.x); callers
then subscribe the ordinary way and rebuild the header block with ``header_block``.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

RawHandler = Callable[[bytes, bytes | None, bytes], None]
"""Called with (subject, header block or None, payload); must not block or raise."""

RawReplyHandler = Callable[[bytes, bytes, bytes | None, bytes], None]
"""Called with (subject, reply, header block or None, payload): for a JetStream push
consumer, whose reply subject carries the sequences; must not block or raise."""

_PROCESS_MSG_PARAMS = ["sid", "subject", "reply", "data", "headers"]
_STATUS_AT = len(b"NATS/1.0")


class RawTap:
    def __init__(self, nc: NatsClient, process_msg: Callable[..., Awaitable[None]]) -> None:
        self._nc = nc
        self._process_msg = process_msg
        self._routes: dict[int, RawHandler] = {}
        self._reply_routes: dict[int, RawReplyHandler] = {}

    def route(self, sub: Subscription, handler: RawHandler) -> None:
        self._routes[_sid(sub)] = handler

    def route_with_reply(self, sub: Subscription, handler: RawReplyHandler) -> None:
        self._reply_routes[_sid(sub)] = handler

    def unroute(self, sub: Subscription) -> None:
        self._routes.pop(_sid(sub), None)
        self._reply_routes.pop(_sid(sub), None)

    async def process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        handler = self._routes.get(sid)
        if handler is None:
            if self._reply_routes and (full := self._reply_routes.get(sid)) is not None:
                stats = self._nc.stats
                stats["in_msgs"] += 1
                stats["in_bytes"] += len(data)
                full(subject, reply, headers, data)
                return
            await self._process_msg(sid, subject, reply, data, headers)
            return
        stats = self._nc.stats
        stats["in_msgs"] += 1
        stats["in_bytes"] += len(data)
        handler(subject, headers, data)


_taps: weakref.WeakKeyDictionary[NatsClient, RawTap] = weakref.WeakKeyDictionary()


def tap_for(nc: NatsClient) -> RawTap | None:
    """The client's tap, installed on first use; None if this nats-py has no such hook."""
    tap = _taps.get(nc)
    if tap is not None:
        return tap
    process_msg: Any = getattr(nc, "_process_msg", None)
    stats: Any = getattr(nc, "stats", None)
    if process_msg is None or not isinstance(stats, dict) or "in_msgs" not in stats:
        return None
    try:
        params = list(inspect.signature(process_msg).parameters)
    except (TypeError, ValueError):
        return None
    if params != _PROCESS_MSG_PARAMS:
        return None
    tap = _taps[nc] = RawTap(nc, process_msg)
    nc._process_msg = tap.process_msg  # type: ignore[method-assign]
    return tap


class RawSubscription:
    """A subscription whose messages reach a ``RawHandler``: through the tap where this
    nats-py has one, else the ordinary way with the header block rebuilt. One place
    for the choice, for every raw reader (acks, history reads, the replay tail)."""

    def __init__(self, sub: Subscription, tap: RawTap | None) -> None:
        self._sub: Subscription | None = sub
        self._tap = tap

    @property
    def tapped(self) -> bool:
        return self._tap is not None

    async def stop(self) -> None:
        """Unroute and unsubscribe; a connection already closed has nothing to undo."""
        sub, self._sub = self._sub, None
        if sub is None:
            return
        if self._tap is not None:
            self._tap.unroute(sub)
        with contextlib.suppress(nats.errors.Error):
            await sub.unsubscribe()


async def subscribe_raw(
    nc: NatsClient, subject: str, handler: RawHandler, **options: Any
) -> RawSubscription:
    """``nc.subscribe(subject, **options)`` with every message handed to ``handler``."""
    tap = tap_for(nc)
    if tap is None:

        async def on_msg(msg: Msg) -> None:
            handler(msg.subject.encode(), header_block(msg.headers), msg.data)

        return RawSubscription(await nc.subscribe(subject, cb=on_msg, **options), None)
    sub = await nc.subscribe(subject, **options)
    tap.route(sub, handler)
    return RawSubscription(sub, tap)


def _sid(sub: Subscription) -> int:
    sid = getattr(sub, "_id", None)
    if not isinstance(sid, int):
        raise TypeError("nats-py subscription without an integer id")
    return sid


def status(block: bytes | None) -> bytes | None:
    """The inline status of a header block (``NATS/1.0 204 EOB``: ``b"204"``), else None."""
    if block is None or len(block) <= _STATUS_AT or block[_STATUS_AT] != 0x20:
        return None
    return block[_STATUS_AT + 1 : _STATUS_AT + 4]


def header(block: bytes, key: bytes) -> bytes | None:
    """One header's value; ``key`` is ``b"\\nName:"``. The last one wins, as in nats-py's dict.

    The server writes its own headers as ``Name: value`` and nats-py (our publishers)
    writes stored headers the same way, so a search for the name beats parsing all.
    """
    i = block.rfind(key)
    if i < 0:
        return None
    start = i + len(key)
    return block[start : block.find(b"\r", start)].strip()


def header_key(name: str) -> bytes:
    return b"\n" + name.encode("ascii") + b":"


def header_block(headers: Mapping[str, str] | None) -> bytes | None:
    """A nats-py header dict back as the block the server sent (for the untapped path)."""
    if not headers:
        return None
    lines = [b"NATS/1.0"]
    code = headers.get("Status")
    if code is not None:
        lines[0] += b" " + code.encode()
    lines += [f"{k}: {v}".encode() for k, v in headers.items() if k != "Status"]
    return b"\r\n".join(lines) + b"\r\n\r\n"
