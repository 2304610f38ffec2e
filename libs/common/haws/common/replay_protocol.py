"""The replay service's request and reply, as the gateway and the service share them.

msgpack on the wire; a reply carries at most one page (``MAX_BATCH`` messages,
``MAX_BATCH_BYTES``), so a request far behind pages instead of spiking memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from haws.common.messages import StoredMessage, block_fields, stored
from haws.common.stream_reader import HistoryPage
from haws.protocol.errors import BadRequest


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    topic: str
    after: int
    limit: int
    until: int | None = None

    def encode(self) -> bytes:
        return bytes(
            msgpack.packb(
                {"topic": self.topic, "after": self.after, "limit": self.limit, "until": self.until}
            )
        )

    @classmethod
    def decode(cls, raw: bytes) -> ReplayRequest:
        try:
            obj: Any = msgpack.unpackb(raw, raw=False)
            request = cls(
                topic=str(obj["topic"]),
                after=int(obj["after"]),
                limit=int(obj["limit"]),
                until=None if obj.get("until") is None else int(obj["until"]),
            )
        except (ValueError, TypeError, KeyError, msgpack.UnpackException) as exc:
            raise BadRequest(f"bad replay request: {exc!r}") from None
        if request.after < 0 or request.limit < 1:
            raise BadRequest("after must be >= 0 and limit >= 1")
        return request


Row = list[Any]
"""One message on the wire: ``[seq, prev, ts, body, sender, mid, traceparent]``."""


def _message_to_wire(m: StoredMessage) -> Row:
    return [m.seq, m.prev, m.ts, m.body, m.sender, m.mid, m.traceparent]


def _message_from_wire(topic: str, row: Row) -> StoredMessage:
    seq, prev, ts, body, sender, mid, traceparent = row
    return stored(topic, seq, prev, ts, body, sender, mid, traceparent)


def row_of(block: bytes, body: bytes, seq: int, prev: int) -> Row:
    """A direct-get reply (``StreamReader.read_as``) as its row, with no message between."""
    ts, sender, mid, traceparent = block_fields(block)
    return [seq, prev, ts, body, sender, mid, traceparent]


def encode_page(page: HistoryPage) -> bytes:
    return encode_rows([_message_to_wire(m) for m in page.messages], page.more, page.gap)


def encode_rows(rows: list[Row], more: bool, gap: tuple[int, int] | None) -> bytes:
    return bytes(
        msgpack.packb(
            {"messages": rows, "more": more, "gap": list(gap) if gap else None},
            use_bin_type=True,
        )
    )


_row_packer = msgpack.Packer(use_bin_type=True)
"""Reused: ``packb`` builds a packer per call, 3x the cost of a row (one per stored
message in the replay tail). Safe on one event loop: ``pack`` returns and resets."""


def pack_row(row: Row) -> bytes:
    """One row as ``encode_rows`` writes it inside its page (the replay tail keeps these)."""
    return bytes(_row_packer.pack(row))


def rechain_packed(row: bytes, prev: int) -> bytes:
    """A packed row with its ``prev`` replaced: a page's first row names the cursor it
    follows, as a stream read's does (``items_of``)."""
    fields: Any = msgpack.unpackb(row, raw=False)
    fields[1] = prev
    return pack_row(fields)


def encode_packed(rows: list[bytes], more: bool, gap: tuple[int, int] | None) -> bytes:
    """``encode_rows`` of rows already packed by ``pack_row``: the same bytes, with no
    per-row work but one join (a unit test holds the two to each other)."""
    return b"".join(
        (
            _PAGE_HEAD,
            _array_header(len(rows)),
            *rows,
            _MORE_KEY,
            _TRUE if more else _FALSE,
            _GAP_KEY,
            bytes(msgpack.packb(list(gap))) if gap else _NIL,
        )
    )


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


_PAGE_HEAD = b"\x83" + bytes(msgpack.packb("messages"))
_MORE_KEY = bytes(msgpack.packb("more"))
_GAP_KEY = bytes(msgpack.packb("gap"))
_TRUE, _FALSE, _NIL = b"\xc3", b"\xc2", b"\xc0"


def encode_error(message: str) -> bytes:
    return bytes(msgpack.packb({"error": message}))


def decode_page(topic: str, raw: bytes) -> HistoryPage:
    obj: Any = msgpack.unpackb(raw, raw=False)
    if "error" in obj:
        raise BadRequest(f"replay service refused: {obj['error']}")
    gap = obj.get("gap")
    return HistoryPage(
        messages=[_message_from_wire(topic, row) for row in obj["messages"]],
        more=bool(obj["more"]),
        gap=(int(gap[0]), int(gap[1])) if gap else None,
    )
