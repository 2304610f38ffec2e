"""The session record's bytes: the owner's epoch travels with it, and a record
written without one (an older gateway's) reads as unfenced, epoch 0."""

from __future__ import annotations

import msgpack

from haws.common.session_record import SessionRecord, TopicState


def test_a_record_reads_back_with_its_epoch() -> None:
    record = SessionRecord(subs={"a": TopicState(7, presence=True)}, node="n1", user="u", epoch=9)
    assert SessionRecord.decode(record.encode()) == record


def test_a_record_without_an_epoch_reads_as_unfenced() -> None:
    older = msgpack.packb({"v": 1, "subs": {"a": [3, False]}, "node": "n0", "user": None})
    assert SessionRecord.decode(older) == SessionRecord(subs={"a": TopicState(3)}, node="n0")


def test_an_unfenced_record_is_written_as_before() -> None:
    record = SessionRecord(subs={"a": TopicState(3)}, node="n0")
    assert "epoch" not in msgpack.unpackb(record.encode())
