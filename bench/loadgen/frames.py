"""RFC 6455 framing for a client: build masked frames, split server frames.

Clients must mask what they send; the key may be any 4 bytes, so a zero key is
used and the payload goes out unchanged (no per-byte XOR in Python). Server
frames are unmasked; ``FrameReader`` splits a received chunk into whole frames
and keeps the tail for the next chunk.
"""

from __future__ import annotations

from typing import Final

TEXT: Final = 0x1
BINARY: Final = 0x2
CLOSE: Final = 0x8
PING: Final = 0x9
PONG: Final = 0xA

_ZERO_MASK: Final = b"\x00\x00\x00\x00"


class FrameError(Exception):
    """The server sent something that is not a valid frame sequence."""


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked (zero key) frame carrying ``payload``."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
    return head + _ZERO_MASK + payload


def close_frame(code: int = 1000) -> bytes:
    return client_frame(CLOSE, code.to_bytes(2, "big"))


def close_code_of(payload: bytes) -> int:
    """The status code of a close frame's payload (1005 when it carries none)."""
    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005


class FrameReader:
    """Splits server bytes into ``(opcode, payload)`` frames; fragments are joined."""

    __slots__ = ("_buf", "_frag_opcode", "_fragments")

    def __init__(self) -> None:
        self._buf = b""
        self._fragments: list[bytes] = []
        self._frag_opcode = 0

    @property
    def pending(self) -> int:
        """Bytes held back until the rest of their frame arrives."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        if self._buf:
            data = self._buf + data
        out: list[tuple[int, bytes]] = []
        pos = 0
        end = len(data)
        while end - pos >= 2:
            b0 = data[pos]
            b1 = data[pos + 1]
            if b1 & 0x80:
                raise FrameError("server frames must not be masked")
            n = b1 & 0x7F
            head = 2
            if n == 126:
                if end - pos < 4:
                    break
                n = (data[pos + 2] << 8) | data[pos + 3]
                head = 4
            elif n == 127:
                if end - pos < 10:
                    break
                n = int.from_bytes(data[pos + 2 : pos + 10], "big")
                head = 10
            stop = pos + head + n
            if stop > end:
                break
            opcode = b0 & 0x0F
            payload = data[pos + head : stop]
            pos = stop
            if b0 & 0x80 and opcode:
                out.append((opcode, payload))
            else:
                self._fragment(b0 & 0x80, opcode, payload, out)
        self._buf = data[pos:] if pos < end else b""
        return out

    def _fragment(
        self, fin: int, opcode: int, payload: bytes, out: list[tuple[int, bytes]]
    ) -> None:
        if opcode:  # first fragment of a message
            if self._fragments:
                raise FrameError("new message before the last one ended")
            self._frag_opcode = opcode
        elif not self._fragments:
            raise FrameError("continuation frame without a message")
        self._fragments.append(payload)
        if fin:
            out.append((self._frag_opcode, b"".join(self._fragments)))
            self._fragments = []
