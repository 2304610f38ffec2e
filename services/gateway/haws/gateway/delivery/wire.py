"""Server frames as RFC 6455 bytes, built by the gateway so one write carries many.

aiohttp's ``send_frame`` costs a coroutine and a syscall per frame; the flush
pass instead hands each socket everything queued for it in one
``transport.write``. A fan-out message is one payload object shared by every
subscriber, so its complete frame (header + payload) is built once per pass and
the same bytes go to every socket, as the raw aiohttp baseline does.
"""

from __future__ import annotations

import struct
from typing import Final

from haws.protocol.codec import Codec

BATCH_MAX_BYTES: Final = 256 * 1024
"""Largest batched WebSocket message (protocol.md: at most 256 KiB)."""

_FIN_TEXT: Final = 0x81
_FIN_BINARY: Final = 0x82
_FIN_CLOSE: Final = 0x88
_HEADER_SHORT = struct.Struct("!BB")
_HEADER_MEDIUM = struct.Struct("!BBH")
_HEADER_LONG = struct.Struct("!BBQ")


def frame_header(first: int, length: int) -> bytes:
    """RFC 6455 header of an unmasked (server) frame carrying ``length`` bytes."""
    if length < 126:
        return _HEADER_SHORT.pack(first, length)
    if length < 65536:
        return _HEADER_MEDIUM.pack(first, 126, length)
    return _HEADER_LONG.pack(first, 127, length)


def _framed(payload: bytes, binary: bool) -> bytes:
    return frame_header(_FIN_BINARY if binary else _FIN_TEXT, len(payload)) + payload


def close_frame(code: int, reason: str) -> bytes:
    """A server close frame: written raw behind what is buffered when the socket
    cannot be waited for (aiohttp's ``close`` waits for it to drain)."""
    payload = code.to_bytes(2, "big") + reason.encode()[:123]
    return frame_header(_FIN_CLOSE, len(payload)) + payload


def batches(frames: list[bytes], max_bytes: int = BATCH_MAX_BYTES) -> list[list[bytes]]:
    """Split queued frames into runs of at most ``max_bytes`` each (a lone larger
    frame is a run of its own)."""
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for frame in frames:
        if current and size + len(frame) > max_bytes:
            chunks.append(current)
            current, size = [], 0
        current.append(frame)
        size += len(frame)
    if current:
        chunks.append(current)
    return chunks


def payloads(frames: list[bytes], codec: Codec, batch: bool) -> list[bytes]:
    """The WebSocket messages that carry ``frames``: joined into batches when the
    client asked for ``batch``, one message per frame otherwise."""
    if not batch or len(frames) < 2:
        return frames
    return [codec.join(run) if len(run) > 1 else run[0] for run in batches(frames)]


class WireFrames:
    """The bytes written in one flush pass, built once for every socket that gets them.

    Sockets of one topic usually have the same frames queued in a pass (the
    messages fanned out since the last one), so both one payload's frame and a
    whole run's write are kept: keyed by the payload objects, whose hashes are
    cached and which compare by identity first, a hit costs a dict probe instead
    of headers, a join and a copy. ``clear`` at the end of the pass: nothing
    outlives it.
    """

    __slots__ = ("_binary", "_runs", "_text")

    def __init__(self) -> None:
        self._text: dict[bytes, bytes] = {}
        self._binary: dict[bytes, bytes] = {}
        self._runs: dict[tuple[object, ...], bytes] = {}

    def frame(self, payload: bytes, binary: bool) -> bytes:
        cache = self._binary if binary else self._text
        wire = cache.get(payload)
        if wire is None:
            wire = cache[payload] = _framed(payload, binary)
        return wire

    def encode(self, frames: list[bytes], codec: Codec, batch: bool) -> bytes:
        """Everything queued for one socket, as the bytes of one write."""
        binary = codec.binary
        if len(frames) == 1:
            return self.frame(frames[0], binary)
        key = (binary, batch, *frames)
        wire = self._runs.get(key)
        if wire is None:
            if batch:  # a joined batch is this run's own: framed, not cached by payload
                parts = [_framed(payload, binary) for payload in payloads(frames, codec, batch)]
            else:
                parts = [self.frame(payload, binary) for payload in frames]
            wire = self._runs[key] = b"".join(parts)
        return wire

    def clear(self) -> None:
        self._text.clear()
        self._binary.clear()
        self._runs.clear()
