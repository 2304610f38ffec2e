"""The load generator's bookkeeping: duplicates, chain breaks, losses, percentiles."""

from __future__ import annotations

import math

import pytest

from bench.loadgen.tally import Latencies, SeqTally, expected_since, lost, percentile, summarize


def test_in_order_chain_counts_every_message_once() -> None:
    tally = SeqTally()
    for seq, prev in [(5, 0), (9, 5), (12, 9)]:  # stream seqs: gaps between are other topics
        assert tally.add(seq, prev)
    assert (tally.count, tally.dups, tally.breaks, tally.first, tally.last) == (3, 0, 0, 5, 12)


def test_a_repeated_or_older_seq_is_a_duplicate_and_not_counted() -> None:
    tally = SeqTally()
    tally.add(1, 0)
    tally.add(2, 1)
    assert not tally.add(2, 1)
    assert not tally.add(1, 0)
    assert (tally.count, tally.dups, tally.last) == (2, 2, 2)


def test_a_prev_that_skips_the_last_seq_is_a_break() -> None:
    tally = SeqTally()
    tally.add(1, 0)
    tally.add(4, 3)  # 2 and 3 never arrived
    assert tally.breaks == 1
    assert tally.count == 2


def test_the_first_message_never_counts_as_a_break() -> None:
    tally = SeqTally()
    tally.add(40, 39)  # subscribed live: the chain starts wherever it starts
    assert tally.breaks == 0


def test_lost_counts_acked_messages_from_the_start_that_never_arrived() -> None:
    published = [10, 11, 12, 13, 14]
    tally = SeqTally()
    for seq, prev in [(10, 0), (11, 10), (14, 13)]:
        tally.add(seq, prev)
    assert lost(tally, published, start=10) == 2
    assert expected_since(published, 12) == 3


def test_duplicates_do_not_hide_losses() -> None:
    published = [1, 2, 3]
    tally = SeqTally()
    for seq, prev in [(1, 0), (1, 0), (1, 0)]:
        tally.add(seq, prev)
    assert lost(tally, published, start=1) == 2


def test_a_subscriber_that_received_nothing_lost_everything_owed() -> None:
    assert lost(SeqTally(), [3, 4, 5], start=4) == 2
    assert lost(SeqTally(), [], start=1) == 0


@pytest.mark.parametrize(("q", "expected"), [(50, 50.0), (99, 99.0), (100, 100.0), (1, 1.0)])
def test_percentile_is_nearest_rank(q: float, expected: float) -> None:
    ordered = [float(i) for i in range(1, 101)]
    assert percentile(ordered, q) == expected


def test_summary_of_nothing_is_nan_not_an_error() -> None:
    stats = summarize([])
    assert math.isnan(stats["p50"])
    assert stats["n"] == 0


def test_latencies_are_reported_in_ms() -> None:
    latencies = Latencies()
    latencies.samples.extend([1_000_000, 2_000_000, 3_000_000])
    stats = latencies.summary_ms()
    assert stats["p50"] == 2.0
    assert stats["max"] == 3.0
    assert stats["n"] == 3
