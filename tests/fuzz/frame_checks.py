"""What the fuzzer checks for each input (``fuzz_frames.py`` drives it with atheris).

Every input must become a frame or a typed ``ProtocolError``/``FrameDecodeError``
(and a token a principal or ``TokenRejected``); any other exception is a crash
that atheris reports with the input that caused it. A ``pub`` that parses must
also be storable and encodable for subscribers of both codecs.
"""

from __future__ import annotations

from typing import Any

from haws.common import frames
from haws.common.messages import StoredMessage
from haws.common.tokens import sign_hs256
from haws.gateway.security.auth import JwtAuth, TokenRejected
from haws.protocol.client_frames import Pub, parse_client_frame
from haws.protocol.codec import JSON, MSGPACK, Codec, decode_payload, encode_payload
from haws.protocol.errors import FrameDecodeError, ProtocolError

SECRET = b"fuzzing-secret-fuzzing-secret-0123"
AUTH = JwtAuth(secret=SECRET, audience="haws")
SEEDS: list[bytes] = [
    b'\x00{"op":"hello","v":1,"session":"s","cursors":{"a.b":3},"batch":true}',
    b'\x00{"op":"pub","id":1,"topic":"a.b","data":{"x":[1,2,{"y":null}]},"mid":"m"}',
    b'\x00{"op":"sub","id":2,"topic":"a","since":0,"presence":true}\n{"op":"ping"}',
    b'\x00{"op":"refresh","id":3,"token":"abc"}',
    b"\x03\x84\xa2op\xa3pub\xa2id\x01\xa5topic\xa1a\xa4data\xc4\x02\x00\xff",
    b"\x04" + sign_hs256({"sub": "u", "exp": 4102444800, "aud": "haws"}, SECRET).encode(),
]


def _deliverable(frame: Pub) -> None:
    stored = StoredMessage(frame.topic, 1, 0, 0, encode_payload(frame.data))
    data = decode_payload(stored.body)
    JSON.encode(frames.msg(stored, data))
    MSGPACK.encode(frames.msg(stored, data))


def check_frames(codec: Codec, raw: str | bytes) -> None:
    """``raw`` as one message and as a batch: frames or ``FrameDecodeError``, each frame
    then through ``check_parsed``. The unit test ``test_no_crash`` runs it too."""
    for step in (codec.decode, codec.split):
        try:
            result: Any = step(raw)
        except FrameDecodeError:
            continue
        for obj in result if isinstance(result, list) else [result]:
            if not isinstance(obj, dict):
                raise TypeError(f"{codec.name} gave a {type(obj).__name__}, not a frame")
            check_parsed(obj)


def check_parsed(obj: dict[Any, Any]) -> None:
    """A decoded object is a client frame or a ``ProtocolError``; a ``pub`` is deliverable."""
    try:
        frame = parse_client_frame(obj)
    except ProtocolError:
        return
    if isinstance(frame, Pub):
        _deliverable(frame)


def _token(text: str) -> None:
    # No JWKS: authenticate never suspends, so one send() runs it to the end.
    coro = AUTH.authenticate(text)
    try:
        coro.send(None)
    except (StopIteration, TokenRejected):
        return
    coro.close()
    raise RuntimeError("authenticate suspended without a key fetch")


def check(data: bytes) -> None:
    """One fuzz input: the first byte picks the target, the rest is the input."""
    if not data:
        return
    selector, body = data[0], data[1:]
    if selector & 4:
        _token(body.decode("utf-8", "replace"))
        return
    codec: Codec = MSGPACK if selector & 1 else JSON
    check_frames(codec, body if selector & 2 else body.decode("utf-8", "replace"))
