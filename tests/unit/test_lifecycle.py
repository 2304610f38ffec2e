"""Lifecycle events on the wire, close reasons, and the server SDK's copy of the names."""

from __future__ import annotations

import dataclasses

import msgpack
import pytest

from haws.common import lifecycle, names
from haws.common import presence_protocol as pp
from haws.protocol.errors import CLOSE_ADVICE, BadRequest, CloseCode
from haws.server import LifecycleEvent as SdkEvent
from haws.server import subjects


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
    assert [f.name for f in dataclasses.fields(SdkEvent)] == [
        f.name for f in dataclasses.fields(lifecycle.LifecycleEvent)
    ]


def test_sdk_names_are_the_servers() -> None:
    assert subjects.API_PREFIX == names.API_PREFIX
    assert subjects.EVENTS_STREAM == names.EVENTS_STREAM
    assert subjects.EVENTS_PREFIX == names.EVENTS_PREFIX
    assert subjects.api_subject("publish") == names.api_subject("publish")


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
