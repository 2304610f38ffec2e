"""Lifecycle events on the wire, as the presence leader writes and the server SDK reads them,
and close reasons."""

from __future__ import annotations

import msgpack
import pytest

from haws.common import lifecycle
from haws.common import presence_protocol as pp
from haws.protocol.errors import CLOSE_ADVICE, BadRequest, CloseCode
from haws.server import LifecycleEvent as SdkEvent


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (None, "close"),
        (1000, "close"),
        (1006, "close"),
        (4002, "close"),
        (4000, "drain"),
        (4008, "slow_consumer"),
        (4009, "takeover"),
        (4001, "expired"),
        (4010, "server"),
        (4011, "server"),
    ],
)
def test_reason_of_close(code: int | None, reason: str) -> None:
    assert lifecycle.reason_of_close(code) == reason


def test_event_round_trips_and_the_sdk_reads_it() -> None:
    event = lifecycle.LifecycleEvent("s:1:0", "disconnect", "s", None, "n", "c", 3, 5, "drain")
    raw = event.encode()
    assert lifecycle.LifecycleEvent.decode(raw) == event
    assert b'"user":null' in raw
    assert b"topic" not in raw
    sdk = SdkEvent.decode(raw)
    assert (sdk.id, sdk.type, sdk.reason, sdk.epoch) == ("s:1:0", "disconnect", "drain", 3)


def test_an_event_from_a_newer_server_keeps_what_this_version_knows() -> None:
    raw = (
        b'{"id":"s:2:0","type":"resume","session":"s","user":"u","node":"b","conn":"c",'
        b'"epoch":4,"ts":9,"previous_node":"a","region":"eu-1"}'
    )
    event = SdkEvent.decode(raw)
    assert (event.type, event.previous_node, event.node) == ("resume", "a", "b")


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'"connect"', b'{"id":"s:1:0","type":"connect"}'],
    ids=["not-json", "array", "string", "fields-missing"],
)
def test_a_bad_event_is_a_bad_request(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="bad lifecycle event"):
        SdkEvent.decode(raw)


def test_server_disconnect_codes_say_whether_to_reconnect() -> None:
    assert CLOSE_ADVICE[CloseCode.SERVER_DISCONNECT].reconnect is True
    assert CLOSE_ADVICE[CloseCode.SESSION_ENDED].reconnect is False
    assert CLOSE_ADVICE[CloseCode.SESSION_ENDED].resumable is False


def test_presence_messages_from_a_newer_peer_keep_what_this_version_knows() -> None:
    raw = msgpack.packb(
        {"kind": "close", "session": "s", "node": "n", "conn": "c", "epoch": 2,
         "reason": "drain", "added_later": True},
        use_bin_type=True,
    )  # fmt: skip
    event = pp.decode(pp.Event, raw)
    assert (event.kind, event.epoch, event.reason) == ("close", 2, "drain")
    with pytest.raises(BadRequest):
        pp.decode(pp.Event, msgpack.packb([1, 2]))
