"""Stored messages from JetStream headers; frames encoded once per codec."""

from __future__ import annotations

import dataclasses
import json

import msgpack
import pytest

from haws.common.messages import StoredMessage, stamp_bytes_to_ms, stamp_to_ms, stored
from haws.common.replay_protocol import (
    decode_page,
    encode_packed,
    encode_page,
    encode_rows,
    pack_row,
    row_of,
)
from haws.common.stream_reader import HistoryPage
from haws.gateway.delivery.wire import BATCH_MAX_BYTES, batches
from haws.gateway.fanout.frame_cache import FrameCache, SharedFrames
from haws.protocol.codec import JSON, MSGPACK, encode_payload


def test_stamp_with_nanoseconds_to_ms() -> None:
    assert stamp_to_ms("2026-11-27T03:42:43.63281128Z") == 1795750963632
    assert stamp_to_ms("2026-11-27T03:42:43Z") == 1795750963000
    assert stamp_to_ms(None) == 0
    assert stamp_to_ms("garbage") == 0


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-27T03:42:43.63281128Z",
        "2026-11-27T03:42:43.999999999Z",
        "2026-11-27T03:42:43Z",
        "2026-11-27T03:42:43.6Z",
        "2026-11-27T03:42:43.63Z",
        "2026-11-27T03:42:43.632+00:00",
        "not a time at all, but long",
        "",
    ],
)
def test_a_raw_stamp_reads_as_its_decoded_text_does(stamp: str) -> None:
    assert stamp_bytes_to_ms(stamp.encode()) == stamp_to_ms(stamp)


def test_a_reply_row_is_the_message_the_gateway_would_have_read_itself() -> None:
    """The replay service builds rows straight from header blocks; the gateway decodes
    them into the same messages as a direct read of the stream gives."""
    block = (
        b"NATS/1.0\r\nHaws-From: u\xc3\xa9\r\nNats-Msg-Id: m0\r\ntraceparent: 00-ab-cd-01\r\n"
        b"Nats-Stream: HAWS\r\nNats-Sequence: 17\r\n"
        b"Nats-Time-Stamp: 2026-11-27T06:07:33.444138968Z\r\n\r\n"
    )
    bare = b"NATS/1.0\r\nNats-Sequence: 18\r\nNats-Time-Stamp: 2026-11-27T06:07:34Z\r\n\r\n"
    body = encode_payload({"x": 1})
    direct = [
        StoredMessage.from_header_block("t", block, body, 17, 16),
        StoredMessage.from_header_block("t", bare, body, 18, 17),
    ]
    assert direct[0].sender == "u\u00e9"
    assert (direct[0].mid, direct[0].traceparent) == ("m0", "00-ab-cd-01")
    rows = [row_of(block, body, 17, 16), row_of(bare, body, 18, 17)]
    raw = encode_rows(rows, True, (3, 15))
    assert raw == encode_page(HistoryPage(direct, more=True, gap=(3, 15)))
    assert decode_page("t", raw) == HistoryPage(direct, more=True, gap=(3, 15))


@pytest.mark.parametrize("count", [0, 1, 15, 16, 1000, 70_000])
@pytest.mark.parametrize("more", [True, False])
@pytest.mark.parametrize("gap", [None, (3, 9)])
def test_a_page_of_packed_rows_is_the_page_encoded_whole(
    count: int, more: bool, gap: tuple[int, int] | None
) -> None:
    """The replay tail's pages (rows packed when stored, joined when served) decode as
    the stream's do: the same bytes, across msgpack's three array header sizes."""
    rows = [
        [seq, seq - 1, 1795750963000 + seq, b"x" * (seq % 40), "u" if seq % 2 else None, None, None]
        for seq in range(1, count + 1)
    ]
    assert encode_packed([pack_row(r) for r in rows], more, gap) == encode_rows(rows, more, gap)


def test_from_republished_headers() -> None:
    headers = {
        "Nats-Sequence": "12",
        "Nats-Last-Sequence": "9",
        "Nats-Time-Stamp": "2026-11-27T03:42:43.5Z",
        "Nats-Msg-Id": "m1",
        "Haws-From": "alice",
    }
    m = StoredMessage.from_headers("a.b", headers, b"body")
    assert (m.seq, m.prev, m.ts, m.mid, m.sender) == (12, 9, 1795750963500, "m1", "alice")


def test_the_fast_constructor_sets_every_field_and_stays_frozen() -> None:
    values = ("t", 5, 4, 1000, b"body", "alice", "m1", "00-ab-cd-01")
    m = stored(*values)
    assert m == StoredMessage(*values)
    assert [getattr(m, f.name) for f in dataclasses.fields(StoredMessage)] == list(values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.seq = 6  # type: ignore[misc]  # the write mypy refuses is the one under test


def test_frame_cache_encodes_each_codec_once_and_shares_the_bytes() -> None:
    m = StoredMessage("t", 5, 4, 1000, encode_payload({"x": 1}), mid="m")
    cache = FrameCache(m)
    j1, j2 = cache.encoded(JSON), cache.encoded(JSON)
    assert j1 is j2
    assert json.loads(j1) == {
        "op": "msg",
        "topic": "t",
        "seq": 5,
        "prev": 4,
        "ts": 1000,
        "data": {"x": 1},
        "mid": "m",
    }
    assert msgpack.unpackb(cache.encoded(MSGPACK))["data"] == {"x": 1}


def test_batches_respect_the_byte_cap() -> None:
    frames = [b"x" * (BATCH_MAX_BYTES // 3)] * 7
    chunks = batches(frames)
    assert sum(len(c) for c in chunks) == 7
    assert all(sum(map(len, c)) <= BATCH_MAX_BYTES for c in chunks)


def test_stored_data_a_codec_cannot_carry_still_delivers_the_seq() -> None:
    body = msgpack.packb({"x": msgpack.ExtType(5, b"\x00")})
    cache = FrameCache(StoredMessage("t", 9, 8, 1000, body))
    frame = json.loads(cache.encoded(JSON))
    assert (frame["seq"], frame["prev"], frame["data"]) == (9, 8, None)
    assert frame["undeliverable"] is True


def test_shared_frames_share_identical_frames_only() -> None:
    shared = SharedFrames(capacity=2)
    body = encode_payload(1)
    a = shared.get(StoredMessage("t", 5, 4, 0, body))
    assert shared.get(StoredMessage("t", 5, 4, 0, body)) is a
    # After an announced gap the same seq carries another prev: another frame.
    assert shared.get(StoredMessage("t", 5, 2, 0, body)) is not a
    shared.get(StoredMessage("t", 6, 5, 0, body))
    assert len(shared) == 2
