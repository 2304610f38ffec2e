"""Server API requests: what each method accepts and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from haws.api import requests as rq
from haws.protocol.errors import BadRequest, CloseCode, NotFound

LIMITS = rq.Limits(max_broadcast_topics=3, max_history=50)


def test_publish_with_optional_fields() -> None:
    got = rq.parse("publish", {"topic": "a.b", "data": None, "mid": "m", "expect_seq": 0}, LIMITS)
    assert got == rq.Publish("a.b", None, "m", 0)


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("publish", {"topic": "a b", "data": 1}),
        ("publish", {"topic": "", "data": 1}),
        ("publish", {"topic": "a.*", "data": 1}),
        ("publish", {"data": 1}),
        ("publish", {"topic": "a", "data": 1, "mid": ""}),
        ("publish", {"topic": "a", "data": 1, "mid": "x" * 129}),
        ("publish", {"topic": "a", "data": 1, "expect_seq": -1}),
        ("publish", {"topic": "a", "data": 1, "expect_seq": True}),
        ("publish", {"topic": "a", "data": 1, "typo": 1}),
        ("broadcast", {"topics": ["a", "b", "c", "d"], "data": 1}),
        ("broadcast", {"topics": ["a", "a"], "data": 1}),
        ("broadcast", {"topics": "a", "data": 1}),
        ("history", {"topic": "a", "limit": 51}),
        ("history", {"topic": "a", "limit": 0}),
        ("history", {"topic": "a", "since": "1"}),
        ("disconnect", {}),
        ("disconnect", {"user": "u", "session": "s"}),
        ("disconnect", {"user": "u", "code": 3999}),
        ("disconnect", {"user": "u", "reconnect": "no"}),
        ("info", {"x": 1}),
    ],
)
def test_bad_requests_are_bad_request(method: str, body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        rq.parse(method, body, LIMITS)


def test_unknown_method_is_not_found() -> None:
    with pytest.raises(NotFound):
        rq.parse("subscribe", {}, LIMITS)


def test_disconnect_default_code_follows_reconnect() -> None:
    again = rq.parse("disconnect", {"user": "u"}, LIMITS)
    ended = rq.parse("disconnect", {"session": "s", "reconnect": False}, LIMITS)
    assert isinstance(again, rq.Disconnect)
    assert isinstance(ended, rq.Disconnect)
    assert (again.code, again.reconnect) == (CloseCode.SERVER_DISCONNECT, True)
    assert (ended.code, ended.reconnect) == (CloseCode.SESSION_ENDED, False)


def test_history_defaults_and_body_decoding() -> None:
    assert rq.parse("history", {"topic": "t"}, LIMITS) == rq.History("t", 0, 50)
    assert rq.decode_body(b"  ") == {}
    for raw in (b"[]", b"{", b"\xff", b'"x"'):
        with pytest.raises(BadRequest):
            rq.decode_body(raw)
