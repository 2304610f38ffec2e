"""One message's ``msg`` frame, encoded at most once per codec.

Fan-out asks the cache for the subscriber's codec; the payload is decoded once
and each codec encodes once, whatever the number of local subscribers.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from haws.common import frames
from haws.common.messages import StoredMessage
from haws.protocol.codec import JSON, MSGPACK, Codec, decode_payload

_UNSET: Any = object()


class FrameCache:
    __slots__ = ("_data", "_json", "_msgpack", "message")

    def __init__(self, message: StoredMessage) -> None:
        self.message = message
        self._data: Any = _UNSET
        self._json: bytes | None = None
        self._msgpack: bytes | None = None

    def _frame(self) -> dict[str, Any]:
        if self._data is _UNSET:
            self._data = decode_payload(self.message.body)
        return frames.msg(self.message, self._data)

    def encoded(self, codec: Codec) -> bytes:
        if codec.binary:
            if self._msgpack is None:
                self._msgpack = self._encode(MSGPACK)
            return self._msgpack
        if self._json is None:
            self._json = self._encode(JSON)
        return self._json

    def _encode(self, codec: Codec) -> bytes:
        try:
            return codec.encode(self._frame())
        except (TypeError, ValueError, OverflowError):
            # Stored data this codec cannot carry (stored before ``pub`` validation,
            # or by another writer): the seq still goes out, so the chain stays whole.
            frame = frames.msg(self.message, None)
            frame["undeliverable"] = True
            return codec.encode(frame)


class SharedFrames:
    """Recent messages' frame caches, so clients catching up on the same range (a
    reconnect storm) share each message's encoding instead of repeating it.

    Keyed by (topic, seq, prev): ``prev`` is part of the frame and differs after
    an announced gap, so only identical frames are shared.
    """

    def __init__(self, capacity: int = 8192) -> None:
        self._capacity = capacity
        self._caches: OrderedDict[tuple[str, int, int], FrameCache] = OrderedDict()

    def __len__(self) -> int:
        return len(self._caches)

    def get(self, message: StoredMessage) -> FrameCache:
        key = (message.topic, message.seq, message.prev)
        cache = self._caches.get(key)
        if cache is None:
            cache = self._caches[key] = FrameCache(message)
            if len(self._caches) > self._capacity:
                self._caches.popitem(last=False)
        return cache
