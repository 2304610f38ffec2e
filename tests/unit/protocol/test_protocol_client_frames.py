"""Client frame parsing: every valid frame becomes its type, every bad one a typed error."""

from __future__ import annotations

from typing import Any

import pytest

from haws.protocol.client_frames import (
    Hello,
    Ping,
    PresenceQuery,
    Pub,
    Sub,
    Unsub,
    parse_client_frame,
    valid_topic,
)
from haws.protocol.errors import BadRequest


def test_hello_defaults_and_resume_fields() -> None:
    assert parse_client_frame({"op": "hello"}) == Hello()
    hello = parse_client_frame(
        {"op": "hello", "v": 1, "session": "s1", "cursors": {"a.b": 4}, "batch": True, "token": "t"}
    )
    assert hello == Hello(token="t", session="s1", cursors={"a.b": 4}, batch=True)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"op": "sub", "id": 1, "topic": "a"}, Sub(1, "a")),
        ({"op": "sub", "id": 2, "topic": "a", "since": 0, "presence": True}, Sub(2, "a", 0, True)),
        ({"op": "unsub", "id": 3, "topic": "a.b"}, Unsub(3, "a.b")),
        ({"op": "pub", "id": 4, "topic": "a", "data": None}, Pub(4, "a", None)),
        ({"op": "pub", "id": 5, "topic": "a", "data": [1], "mid": "m"}, Pub(5, "a", [1], "m")),
        ({"op": "presence", "id": 6, "topic": "a"}, PresenceQuery(6, "a")),
        ({"op": "ping"}, Ping()),
        ({"op": "ping", "id": 7}, Ping(7)),
    ],
)
def test_valid_frames(frame: dict[str, Any], expected: object) -> None:
    assert parse_client_frame(frame) == expected


@pytest.mark.parametrize(
    "frame",
    [
        {},
        {"op": 5},
        {"op": "nope", "id": 1},
        {"op": "hello", "v": 2},
        {"op": "hello", "v": True},
        {"op": "hello", "cursors": []},
        {"op": "hello", "cursors": {"bad topic": 1}},
        {"op": "hello", "cursors": {"a": -1}},
        {"op": "hello", "session": ""},
        {"op": "hello", "batch": "yes"},
        {"op": "sub", "topic": "a"},
        {"op": "sub", "id": True, "topic": "a"},
        {"op": "sub", "id": 1.5, "topic": "a"},
        {"op": "sub", "id": 1, "topic": "a", "since": True},
        {"op": "pub", "id": 1, "topic": "a"},
        {"op": "pub", "id": 1, "topic": "a", "data": 1, "mid": ""},
        {"op": "pub", "id": 1, "topic": "a", "data": 1, "mid": "m" * 129},
        {"op": "ping", "id": "x"},
    ],
)
def test_invalid_frames_raise_bad_request(frame: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        parse_client_frame(frame)


def test_error_carries_the_request_id_when_it_is_valid() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_client_frame({"op": "sub", "id": 9, "topic": "a b"})
    assert caught.value.request_id == 9


@pytest.mark.parametrize("topic", ["a", "a.b.c", "A-Z_0:9", "x" * 200, "a.-._"])
def test_valid_topics(topic: str) -> None:
    assert valid_topic(topic)


@pytest.mark.parametrize(
    "topic", ["", ".", "a.", ".a", "a..b", "a b", "a.*", "a.>", "é", "x" * 201, None, 3, "a\nb"]
)
def test_invalid_topics(topic: object) -> None:
    assert not valid_topic(topic)
