"""No input crashes the frame path: every byte string and every decoded value maps
to a frame or a typed ``ProtocolError``/``FrameDecodeError`` -- never another exception.

And a ``pub`` that parses can be stored and re-encoded for subscribers of either
codec: a payload one codec accepts but another cannot encode would otherwise be
stored and then fail every delivery on its topic.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haws.gateway.security.auth import JwtAuth, TokenRejected
from haws.protocol.codec import JSON, MSGPACK
from tests.fuzz.frame_checks import check_frames, check_parsed
from tests.unit.security import keypairs as kp

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OPS = st.sampled_from(["hello", "sub", "unsub", "pub", "presence", "ping", "refresh", "x", ""])
FIELDS = st.sampled_from(
    ["id", "topic", "since", "presence", "data", "mid", "v", "token", "session", "cursors", "batch"]
)
KEYS = st.one_of(FIELDS, st.text(max_size=5))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)
msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
    | st.floats()
    | st.text(max_size=30)
    | st.binary(max_size=30)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=8))
    | st.builds(msgpack.Timestamp, st.integers(0, 1 << 32), st.integers(0, 999_999_999)),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.one_of(KEYS, st.binary(max_size=3), st.integers(-9, 9)), inner, max_size=5
        )
    ),
    max_leaves=30,
)


def frame_of(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[Any, Any]]:
    return st.builds(
        lambda op, fields: {"op": op, **fields},
        OPS,
        st.dictionaries(FIELDS, values, max_size=6),
    )


@EXAMPLES
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_any_bytes_or_text_decode_to_a_frame_or_a_typed_error(raw: str | bytes) -> None:
    check_frames(JSON, raw)
    check_frames(MSGPACK, raw)


@EXAMPLES
@given(frame_of(json_values))
def test_any_json_frame_parses_or_is_a_protocol_error(obj: dict[str, Any]) -> None:
    check_frames(JSON, json.dumps(obj))
    check_frames(JSON, json.dumps(obj).encode())
    check_frames(JSON, json.dumps(obj) + "\n" + json.dumps(obj))


@EXAMPLES
@given(frame_of(msgpack_values))
def test_any_msgpack_frame_parses_or_is_a_protocol_error(obj: dict[Any, Any]) -> None:
    raw = msgpack.packb(obj, use_bin_type=True)
    check_frames(MSGPACK, raw)
    check_frames(MSGPACK, msgpack.packb([obj, obj], use_bin_type=True))
    check_frames(MSGPACK, raw[: len(raw) // 2])


@EXAMPLES
@given(st.dictionaries(st.one_of(KEYS, st.integers(), st.none()), msgpack_values, max_size=8))
def test_any_decoded_mapping_parses_or_is_a_protocol_error(obj: dict[Any, Any]) -> None:
    check_parsed(obj)


@pytest.mark.parametrize("depth", [100, 254, 255, 1000, 10_000])
def test_deep_nesting_is_a_typed_error_at_every_depth(depth: int) -> None:
    data = "[" * depth + "]" * depth
    check_frames(JSON, f'{{"op":"pub","id":1,"topic":"t","data":{data}}}')
    nested: Any = []
    for _ in range(min(depth, 2000)):
        nested = [nested]
    try:
        raw = msgpack.packb({"op": "pub", "id": 1, "topic": "t", "data": nested})
    except ValueError:
        return  # msgpack's own packer refuses it: no client can send it either
    check_frames(MSGPACK, raw)


def _segment(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@EXAMPLES
@given(
    st.one_of(
        st.text(max_size=200),
        st.builds(
            lambda h, p, sig: f"{_segment(h)}.{_segment(p)}.{sig}",
            json_values
            | st.fixed_dictionaries(
                {"alg": st.sampled_from(["HS256", "RS256", "none"]) | json_values},
                optional={"kid": json_values, "typ": json_values, "crit": json_values},
            ),
            json_values | st.fixed_dictionaries({"sub": json_values, "exp": json_values}),
            st.text("abcAB-_", max_size=20),
        ),
    )
)
def test_any_token_is_accepted_or_refused_never_crashes(token: str) -> None:
    auth = JwtAuth(secret=kp.SECRET.encode(), public_key=("RS256", kp.rsa_key().public_key()))
    with contextlib.suppress(TokenRejected):
        asyncio.run(auth.authenticate(token))
