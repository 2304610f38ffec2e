"""The wire-log verifier must see what it is there to catch: a drop, a duplicate, a reorder."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.wire_log import WireLog, WireMsg, verify

ACKED = [3, 5, 8, 13, 21, 34]
"""Stream seqs are global: one topic's seqs are increasing, not consecutive."""


def stream(seqs: list[int], first_prev: int = 0, connection: int = 1) -> list[WireMsg]:
    """The frames a correct node sends for ``seqs``: each prev is the seq before it."""
    prevs = [first_prev, *ACKED]
    prev_of = {seq: prevs[ACKED.index(seq)] for seq in ACKED}
    return [WireMsg(seq, prev_of[seq], connection, float(i)) for i, seq in enumerate(seqs)]


def frame(seq: int, prev: int, topic: str = "t") -> dict[str, Any]:
    return {"op": "msg", "topic": topic, "seq": seq, "prev": prev, "ts": 0, "data": seq}


def test_a_clean_stream_is_ok() -> None:
    verdict = verify(stream(ACKED), ACKED, first_prev=0)
    assert verdict.ok
    assert verdict.counts() == {
        "received": 6,
        "lost": 0,
        "duplicates": 0,
        "out_of_order": 0,
        "chain_breaks": 0,
        "unexpected": 0,
        "gaps_announced": 0,
    }


@pytest.mark.parametrize("dropped", ACKED)
def test_an_injected_drop_is_reported_lost_and_as_a_chain_break(dropped: int) -> None:
    verdict = verify(stream([s for s in ACKED if s != dropped]), ACKED, first_prev=0)
    assert not verdict.ok
    assert verdict.lost == 1
    assert verdict.lost_seqs == (dropped,)
    if dropped != ACKED[-1]:  # the last one leaves no later prev to break
        assert verdict.chain_breaks == 1
    assert (verdict.duplicates, verdict.out_of_order) == (0, 0)


def test_a_drop_of_the_last_message_is_still_lost() -> None:
    verdict = verify(stream(ACKED[:-1]), ACKED, first_prev=0)
    assert (verdict.lost, verdict.lost_seqs, verdict.chain_breaks) == (1, (34,), 0)


def test_an_injected_duplicate_is_reported_and_does_not_hide_as_a_break() -> None:
    frames = stream(ACKED)
    frames.insert(3, frames[1])  # seq 5 again, after 8 (a resume overlapping)
    verdict = verify(frames, ACKED, first_prev=0)
    assert not verdict.ok
    assert verdict.duplicates == 1
    assert (verdict.lost, verdict.out_of_order, verdict.chain_breaks) == (0, 0, 0)


def test_an_immediate_duplicate_is_reported() -> None:
    frames = stream(ACKED)
    verdict = verify([*frames, frames[-1]], ACKED)
    assert verdict.duplicates == 1


@pytest.mark.parametrize("at", range(len(ACKED) - 1))
def test_a_reorder_is_reported_out_of_order_and_as_breaks(at: int) -> None:
    frames = stream(ACKED)
    frames[at], frames[at + 1] = frames[at + 1], frames[at]
    verdict = verify(frames, ACKED, first_prev=0)
    assert not verdict.ok
    assert verdict.out_of_order == 1
    assert verdict.chain_breaks >= 2
    assert (verdict.lost, verdict.duplicates) == (0, 0)


def test_a_wrong_first_prev_is_a_break_only_when_asked_for() -> None:
    frames = stream(ACKED, first_prev=2)  # the first message claims a predecessor
    assert verify(frames, ACKED).ok
    verdict = verify(frames, ACKED, first_prev=0)
    assert verdict.chain_breaks == 1
    assert verdict.breaks == ((0, 3, 2),)


def test_a_prev_that_skips_is_a_break_even_with_every_acked_seq_there() -> None:
    frames = stream(ACKED)
    frames[2] = WireMsg(8, 3, 1, 2.0)  # claims 3 came right before it: 5 hidden
    verdict = verify(frames, ACKED, first_prev=0)
    assert verdict.chain_breaks == 1
    assert verdict.lost == 0


def test_seqs_nobody_acked_are_counted_not_failed() -> None:
    frames = [*stream(ACKED), WireMsg(40, 34, 1, 9.0)]
    verdict = verify(frames, ACKED, first_prev=0)
    assert verdict.ok
    assert verdict.unexpected == 1


def test_the_log_records_msg_frames_per_client_topic_and_connection() -> None:
    clock = itertools.count()
    log = WireLog(clock=lambda: float(next(clock)))
    tap = log.tap("c1")
    tap({"op": "welcome", "node": "gw-1", "session": "s"}, 1)
    tap(frame(3, 0), 1)
    tap({"op": "recovered", "topic": "t", "complete": True}, 1)
    tap(frame(1, 0, topic="other"), 1)
    tap({"op": "welcome", "node": "gw-2", "session": "s"}, 2)
    tap(frame(3, 0), 2)  # the resume overlapped: the SDK would drop it, the log keeps it
    tap(frame(5, 3), 2)
    assert log.nodes("c1") == {1: "gw-1", 2: "gw-2"}
    assert log.welcomed_at("c1", 2) == 3.0  # welcomes are timed on the same clock
    assert log.welcomed_at("c1", 3) is None
    assert [m.seq for m in log.msgs("c1", "t")] == [3, 3, 5]
    assert [m.seq for m in log.msgs("c1", "t", connections={2})] == [3, 5]
    assert log.arrival("c1", "t", 5) == 5.0
    assert log.has_all("c1", "t", {3, 5})
    assert not log.has_all("c1", "t", {3, 5, 8})
    assert log.verify("c1", "t", [3, 5], first_prev=0).duplicates == 1
    assert log.verify("c1", "t", [3, 5], first_prev=0, connections={2}).ok


def test_announced_gaps_are_kept_and_counted_and_the_log_dumps_as_json(tmp_path: Path) -> None:
    log = WireLog()
    log.record("c1", {"op": "welcome", "node": "gw-1", "session": "s1"}, 1)
    log.record("c1", frame(3, 0), 1)
    log.record("c1", {"op": "recovered", "topic": "t", "complete": True}, 1)
    # What a node sends when it believes retention dropped 5: prev rewritten, gap announced.
    log.record("c1", frame(8, 3), 1)
    log.record("c1", {"op": "recovered", "topic": "t", "complete": False, "from": 5, "to": 5}, 1)
    verdict = log.verify("c1", "t", [3, 5, 8], first_prev=0)
    assert (verdict.lost, verdict.chain_breaks, verdict.gaps_announced) == (1, 0, 1)
    dumped = json.loads(log.dump(tmp_path / "wire.json", ["c1"], "t").read_text())
    client = dumped["clients"]["c1"]
    assert client["session"] == "s1"
    assert [m[:3] for m in client["msgs"]] == [[3, 0, 1], [8, 3, 1]]
    assert [(g["from"], g["to"]) for g in client["gaps_announced"]] == [(5, 5)]


def test_totals_add_up_and_name_the_failing_clients() -> None:
    log = WireLog()
    for i, seqs in enumerate([ACKED, ACKED[:-2], [*ACKED, 34]]):
        for m in stream(seqs):
            log.record(f"c{i}", frame(m.seq, m.prev), m.connection)
    totals = log.verify_all(log.clients(), "t", ACKED, first_prev=0)
    assert not totals.ok
    assert (totals.clients, totals.lost, totals.duplicates) == (3, 2, 1)
    assert sorted(totals.failed) == ["c1", "c2"]
    assert totals.evidence()["c1"]["lost_seqs"] == (21, 34)
