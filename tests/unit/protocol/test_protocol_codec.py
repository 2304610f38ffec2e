"""Codecs: one object per frame, batches joined without re-encoding, no crash on junk."""

from __future__ import annotations

import json

import msgpack
import pytest

from haws.protocol.codec import JSON, MSGPACK, decode_payload, encode_payload
from haws.protocol.errors import FrameDecodeError


def test_json_round_trip_and_batch_is_newline_separated() -> None:
    frames = [JSON.encode({"op": "msg", "seq": n}) for n in range(3)]
    joined = JSON.join(frames).decode()
    assert [json.loads(line) for line in joined.split("\n")] == [
        {"op": "msg", "seq": n} for n in range(3)
    ]
    assert JSON.decode(frames[0]) == {"op": "msg", "seq": 0}


@pytest.mark.parametrize("count", [1, 15, 16, 70000])
def test_msgpack_batch_is_one_array_of_maps(count: int) -> None:
    frames = [MSGPACK.encode({"n": n}) for n in range(count)]
    assert msgpack.unpackb(MSGPACK.join(frames)) == [{"n": n} for n in range(count)]


def test_bytes_reach_json_as_base64() -> None:
    assert json.loads(JSON.encode({"data": b"\x00\xff"})) == {"data": "AP8="}


@pytest.mark.parametrize(
    "raw", ["", "[]", "1", "null", "{", '{"a":1', "\x00", "[" * 10000 + "]" * 10000]
)
def test_json_decode_rejects_anything_but_one_object(raw: str) -> None:
    with pytest.raises(FrameDecodeError):
        JSON.decode(raw)


def test_deeply_nested_object_is_a_decode_error_not_a_crash() -> None:
    nested = '{"a":' * 10000 + "1" + "}" * 10000
    with pytest.raises(FrameDecodeError):
        JSON.decode(nested)


@pytest.mark.parametrize(
    "raw", [b"", b"\xc1", msgpack.packb([1]), msgpack.packb({1: 2}), b"\x81", "text"]
)
def test_msgpack_decode_rejects_anything_but_one_string_keyed_map(raw: bytes | str) -> None:
    with pytest.raises(FrameDecodeError):
        MSGPACK.decode(raw)


def test_stored_payload_keeps_bytes_and_structures() -> None:
    data = {"a": [1, 2.5, None, True], "b": b"raw"}
    assert decode_payload(encode_payload(data)) == data


def test_split_is_the_inverse_of_join_for_both_codecs() -> None:
    frames = [{"op": "msg", "seq": n, "data": "a\\nb"} for n in range(3)]
    for codec in (JSON, MSGPACK):
        assert codec.split(codec.join([codec.encode(f) for f in frames])) == frames
        assert codec.split(codec.encode(frames[0])) == [frames[0]]


@pytest.mark.parametrize("raw", [b"\xc1", msgpack.packb([1, {"a": 1}]), "text"])
def test_msgpack_split_rejects_what_is_not_maps(raw: bytes | str) -> None:
    with pytest.raises(FrameDecodeError):
        MSGPACK.split(raw)
