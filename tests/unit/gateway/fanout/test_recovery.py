"""The recovery rules on their own: what a catch-up must reach (floor), when a
short page is read again (stale read) and when it is a gap lost to retention."""

from __future__ import annotations

from haws.common.messages import StoredMessage
from haws.gateway.fanout import recovery
from haws.protocol.codec import encode_payload

TOPIC = "t"


def stored(seq: int, prev: int) -> StoredMessage:
    return StoredMessage(TOPIC, seq, prev, 0, encode_payload(seq))


def test_a_catch_up_must_reach_its_floor_and_the_first_buffered_prev() -> None:
    assert recovery.need_of(7, []) == 7
    assert recovery.need_of(7, [stored(12, prev=10)]) == 10
    assert recovery.need_of(12, [stored(11, prev=9)]) == 12


def test_a_read_stops_at_the_buffer_only_when_something_lies_before_it() -> None:
    assert recovery.read_until(5, []) is None
    assert recovery.read_until(5, [stored(9, prev=7)]) == 9
    assert recovery.read_until(7, [stored(9, prev=7)]) is None


def test_gaps_merge_into_one_announced_range() -> None:
    assert recovery.merge(None, None) is None
    assert recovery.merge((3, 5), None) == (3, 5)
    assert recovery.merge(None, (3, 5)) == (3, 5)
    assert recovery.merge((3, 5), (8, 9)) == (3, 9)


def test_the_chain_names_what_the_client_got_last() -> None:
    message = stored(12, prev=10)
    assert recovery.rechained(message, 10) is message
    assert recovery.rechained(message, 11).prev == 11
    assert recovery.rechained(message, 11).seq == 12


async def test_an_empty_page_is_read_again_before_it_counts_as_lost() -> None:
    short = recovery.ShortReads()
    answers = [
        await short.lost(5, 9, progress=False, gap_reported=False)
        for _ in range(recovery.STALE_READS)
    ]
    assert answers == [None] * recovery.STALE_READS
    assert await short.lost(5, 9, progress=False, gap_reported=False) == (6, 9)


async def test_progress_starts_the_count_again() -> None:
    short = recovery.ShortReads()
    for _ in range(recovery.STALE_READS):
        assert await short.lost(5, 9, progress=False, gap_reported=False) is None
    assert await short.lost(6, 9, progress=True, gap_reported=False) is None
    assert await short.lost(6, 9, progress=False, gap_reported=False) is None


async def test_a_page_that_reports_a_gap_is_an_answer_not_a_stale_read() -> None:
    short = recovery.ShortReads()
    assert await short.lost(5, 9, progress=False, gap_reported=True) == (6, 9)
