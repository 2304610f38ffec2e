"""Server frames built by the gateway: RFC 6455 headers, batches, one write per socket."""

from __future__ import annotations

import json

import msgpack

from haws.gateway.delivery.wire import BATCH_MAX_BYTES, WireFrames, frame_header
from haws.protocol.codec import JSON, MSGPACK
from tests.support.fake_socket import parse_frames


def test_header_lengths_at_each_size_boundary() -> None:
    for size in (0, 125, 126, 65535, 65536):
        payload = b"x" * size
        assert parse_frames(frame_header(0x81, size) + payload) == [(0x81, payload)]


def test_unbatched_frames_are_one_message_each_in_order() -> None:
    frames = [JSON.encode({"n": n}) for n in range(3)]
    data = WireFrames().encode(frames, JSON, batch=False)
    assert [json.loads(p) for _, p in parse_frames(data)] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert {first for first, _ in parse_frames(data)} == {0x81}


def test_batched_json_frames_are_one_text_message() -> None:
    frames = [JSON.encode({"n": n}) for n in range(3)]
    [(first, payload)] = parse_frames(WireFrames().encode(frames, JSON, batch=True))
    assert first == 0x81
    assert JSON.split(payload) == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_batched_msgpack_frames_are_one_binary_array() -> None:
    frames = [MSGPACK.encode({"n": n}) for n in range(3)]
    [(first, payload)] = parse_frames(WireFrames().encode(frames, MSGPACK, batch=True))
    assert first == 0x82
    assert msgpack.unpackb(payload) == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_a_batch_never_exceeds_the_cap() -> None:
    frames = [JSON.encode({"pad": "x" * (BATCH_MAX_BYTES // 3)}) for _ in range(7)]
    messages = parse_frames(WireFrames().encode(frames, JSON, batch=True))
    assert len(messages) > 1
    assert all(len(p) <= BATCH_MAX_BYTES for _, p in messages)
    assert sum(len(JSON.split(p)) for _, p in messages) == 7


def test_one_payload_is_framed_once_per_pass_and_shared() -> None:
    wire = WireFrames()
    payload = JSON.encode({"op": "msg"})
    first = wire.encode([payload], JSON, batch=False)
    assert wire.encode([payload], JSON, batch=True) is first  # same bytes for every socket
    assert wire.encode([payload], MSGPACK, batch=False) != first  # binary opcode differs
    wire.clear()
    assert wire.encode([payload], JSON, batch=False) is not first
