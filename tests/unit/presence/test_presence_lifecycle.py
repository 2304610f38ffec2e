"""Which lifecycle events one ownership-record update means."""

from __future__ import annotations

import dataclasses
from typing import Any

from haws.common.presence_protocol import OwnerRecord
from haws.presence.lifecycle import lifecycle_events


def record(**fields: Any) -> OwnerRecord:
    base = OwnerRecord(node="n1", conn="c1", epoch=1, online=True, last_seen=0.0, user="u")
    return dataclasses.replace(base, **fields)


def kinds(old: OwnerRecord | None, new: OwnerRecord | None, revision: int = 7) -> list[str]:
    out = []
    for e in lifecycle_events("s", old, new, revision, 1000):
        out.append(":".join(x for x in (e.type, e.reason or e.topic or "") if x))
    return out


def test_first_claim_is_connect_with_its_joins() -> None:
    events = lifecycle_events("s", None, record(topics=["b", "a"]), 7, 1000)
    assert [(e.type, e.topic) for e in events] == [
        ("connect", None),
        ("join", "a"),
        ("join", "b"),
    ]
    assert [e.id for e in events] == ["s:7:0", "s:7:1", "s:7:2"]
    assert {(e.epoch, e.node, e.conn, e.user, e.ts) for e in events} == {(1, "n1", "c1", "u", 1000)}


def test_claim_of_an_online_record_is_takeover_then_resume() -> None:
    old = record(topics=["a"])
    new = record(node="n2", conn="c2", epoch=2, topics=["a"])
    events = lifecycle_events("s", old, new, 8, 1000)
    assert kinds(old, new) == ["disconnect:takeover", "resume"]
    assert (events[0].epoch, events[0].node) == (1, "n1")
    assert (events[1].epoch, events[1].node, events[1].previous_node) == (2, "n2", "n1")


def test_claim_of_an_offline_record_is_only_resume() -> None:
    old = record(online=False, reason="node_dead")
    assert kinds(old, record(node="n2", conn="c2", epoch=2)) == ["resume"]


def test_same_epoch_changes() -> None:
    online = record(topics=["a"])
    assert kinds(online, record(topics=["a", "b"])) == ["join:b"]
    assert kinds(online, record(topics=[])) == ["leave:a"]
    assert kinds(online, record(topics=["a"], online=False, reason="drain")) == ["disconnect:drain"]
    assert kinds(online, record(topics=["a"], online=False, reason="node_dead")) == [
        "disconnect:node_dead"
    ]
    # A reason the presence service does not know is reported as a plain close.
    assert kinds(online, record(topics=["a"], online=False, reason="???")) == ["disconnect:close"]
    revived = kinds(record(online=False), record(online=True))
    assert revived == ["resume"]


def test_deletion_is_leave_and_only_disconnects_if_still_online() -> None:
    assert kinds(record(topics=["a"], online=False), None) == ["leave:a"]
    assert kinds(record(), None) == ["disconnect:expired"]
    assert kinds(None, None) == []
