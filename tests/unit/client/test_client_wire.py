"""Frames as the SDK reads them: batches, error codes to types, close codes to decisions."""

from __future__ import annotations

import json

import aiohttp
import msgpack
import pytest
from aiohttp import WSMsgType

from haws.client.client import fatal_error
from haws.client.connection import decode_frames
from haws.client.types import AuthenticationFailed, SessionTakenOver, error_of
from haws.protocol.codec import JSON, MSGPACK, Codec
from haws.protocol.errors import BadRequest, FrameDecodeError, ProtocolError, Unavailable


def ws_message(kind: WSMsgType, data: str | bytes) -> aiohttp.WSMessage:
    return aiohttp.WSMessage(kind, data, None)


def test_a_json_batch_is_newline_separated_objects() -> None:
    frames = [{"op": "msg", "seq": 1, "data": "a\nb"}, {"op": "pong"}]
    text = "\n".join(json.dumps(f) for f in frames)
    assert decode_frames(JSON, ws_message(WSMsgType.TEXT, text)) == frames


def test_json_in_binary_frames_is_accepted() -> None:
    raw = b'{"op":"pong"}\n{"op":"pong","id":2}'
    frames = decode_frames(JSON, ws_message(WSMsgType.BINARY, raw))
    assert frames == [{"op": "pong"}, {"op": "pong", "id": 2}]


def test_without_batch_a_message_is_one_object_even_with_newlines() -> None:
    pretty = json.dumps({"op": "pong", "id": 1}, indent=2)
    assert decode_frames(JSON, ws_message(WSMsgType.TEXT, pretty), batch=False) == [
        {"op": "pong", "id": 1}
    ]
    packed = msgpack.packb([{"op": "pong"}])
    with pytest.raises(FrameDecodeError):
        decode_frames(MSGPACK, ws_message(WSMsgType.BINARY, packed), batch=False)


def test_a_msgpack_batch_is_one_array_of_maps() -> None:
    frames = [{"op": "msg", "data": b"\x00raw"}, {"op": "pong"}]
    packed = msgpack.packb(frames, use_bin_type=True)
    assert decode_frames(MSGPACK, ws_message(WSMsgType.BINARY, packed)) == frames
    one = msgpack.packb(frames[1])
    assert decode_frames(MSGPACK, ws_message(WSMsgType.BINARY, one)) == [frames[1]]


@pytest.mark.parametrize(
    ("codec", "message"),
    [
        (JSON, ws_message(WSMsgType.TEXT, "[1]")),
        (JSON, ws_message(WSMsgType.BINARY, b"{}\n[]")),
        (MSGPACK, ws_message(WSMsgType.BINARY, msgpack.packb([1, 2]))),
        (MSGPACK, ws_message(WSMsgType.BINARY, b"\xc1")),
        (MSGPACK, ws_message(WSMsgType.TEXT, "{}")),
    ],
)
def test_anything_else_is_a_decode_error(codec: Codec, message: aiohttp.WSMessage) -> None:
    with pytest.raises(FrameDecodeError):
        decode_frames(codec, message)


def test_error_frames_become_the_gateways_error_types() -> None:
    error = error_of({"op": "error", "id": 3, "code": "unavailable", "message": "later"})
    assert isinstance(error, Unavailable)
    assert (error.request_id, error.message) == (3, "later")
    assert isinstance(error_of({"op": "error", "code": "bad_request"}), BadRequest)
    odd = error_of({"op": "error", "code": "brand_new", "message": "?"})
    assert type(odd) is ProtocolError
    assert odd.code == "brand_new"


def test_only_4001_and_4009_stop_the_client() -> None:
    assert isinstance(fatal_error(4001), AuthenticationFailed)
    assert isinstance(fatal_error(4009), SessionTakenOver)
    for code in (None, 1000, 1001, 1006, 1009, 1011, 1013, 4000, 4002, 4008, 4999):
        assert fatal_error(code) is None, code
