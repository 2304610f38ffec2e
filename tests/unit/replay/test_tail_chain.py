"""The replay tail: a topic's chain, what it may answer, and its three bounds."""

from __future__ import annotations

from haws.replay.tail import ROW_OVERHEAD, TailLimits, Tails

NOW = 1_000_000_000


def filled(seqs: list[int], *, topic: str = "t", limits: TailLimits | None = None) -> Tails:
    """A tail fed ``seqs`` as one chain, each row ``b"r<seq>"``, stamped ``NOW - 1``."""
    tails = Tails(limits or TailLimits())
    prev = 0
    for seq in seqs:
        tails.append(topic, seq, prev, NOW - 1, b"r%d" % seq)
        prev = seq
    return tails


def seqs_of(rows: list[bytes]) -> list[int]:
    return [int(row[1:]) for row in rows]


def test_a_chain_from_the_topic_s_start_answers_every_cursor() -> None:
    tails = filled([3, 7, 9, 12])
    for after, expected in ((0, [3, 7, 9, 12]), (7, [9, 12]), (8, [9, 12]), (12, [])):
        hit = tails.read("t", after, 100, None, 1 << 20, NOW)
        assert hit is not None
        assert seqs_of(hit.rows) == expected
        assert (hit.more, hit.at_end) == (False, True)


def test_a_page_stops_at_limit_and_at_until() -> None:
    tails = filled([3, 7, 9, 12])
    page = tails.read("t", 0, 2, None, 1 << 20, NOW)
    assert page is not None
    assert (seqs_of(page.rows), page.more, page.at_end, page.last) == ([3, 7], True, False, 7)
    bounded = tails.read("t", 3, 100, 12, 1 << 20, NOW)
    assert bounded is not None
    # A row at ``until`` proves the range complete: no check against the stream needed.
    assert (seqs_of(bounded.rows), bounded.more, bounded.at_end) == ([7, 9], False, False)
    short = tails.read("t", 3, 100, 50, 1 << 20, NOW)
    assert short is not None
    assert (seqs_of(short.rows), short.at_end) == ([7, 9, 12], True)


def test_a_page_stops_before_max_bytes_but_always_gives_one_row() -> None:
    tails = filled([1, 2, 3, 4])
    page = tails.read("t", 0, 100, None, 5, NOW)  # each row is 2 bytes
    assert page is not None
    assert (seqs_of(page.rows), page.more, page.at_end) == ([1, 2], True, False)
    one = tails.read("t", 0, 100, None, 1, NOW)
    assert one is not None
    assert (seqs_of(one.rows), one.more) == ([1], True)


def test_a_cursor_before_the_chain_is_the_stream_s_to_answer() -> None:
    tails = Tails(TailLimits())
    tails.append("t", 10, 8, NOW, b"r10")  # started mid-topic: nothing known before 8
    assert tails.read("t", 7, 100, None, 1 << 20, NOW) is None
    hit = tails.read("t", 8, 100, None, 1 << 20, NOW)
    assert hit is not None
    assert seqs_of(hit.rows) == [10]
    assert tails.read("other", 0, 100, None, 1 << 20, NOW) is None


def test_a_message_that_does_not_follow_restarts_the_chain() -> None:
    tails = filled([1, 2, 3])
    assert tails.append("t", 3, 2, NOW, b"r3") is False, "seen twice: ignored"
    assert tails.append("t", 9, 5, NOW, b"r9") is True, "5 never arrived"
    assert tails.read("t", 3, 100, None, 1 << 20, NOW) is None, "3..5 is unknown now"
    hit = tails.read("t", 5, 100, None, 1 << 20, NOW)
    assert hit is not None
    assert seqs_of(hit.rows) == [9]
    assert tails.bytes == len(b"r9") + ROW_OVERHEAD


def test_a_topic_keeps_at_most_its_message_limit() -> None:
    tails = filled(list(range(1, 11)), limits=TailLimits(messages=4))
    hit = tails.read("t", 6, 100, None, 1 << 20, NOW)
    assert hit is not None
    assert seqs_of(hit.rows) == [7, 8, 9, 10]
    assert tails.read("t", 5, 100, None, 1 << 20, NOW) is None, "dropped: the stream's again"
    assert tails.messages() == 4
    assert tails.bytes == sum(len(b"r%d" % s) + ROW_OVERHEAD for s in (7, 8, 9, 10))


def test_over_the_byte_limit_the_least_recently_written_topic_goes() -> None:
    row = ROW_OVERHEAD + 3
    tails = Tails(TailLimits(bytes=5 * row))
    for seq in (1, 2):
        tails.append("old", seq, seq - 1, NOW, b"r%02d" % seq)
    for seq in (3, 4, 5):
        tails.append("new", seq, 0 if seq == 3 else seq - 1, NOW, b"r%02d" % seq)
    assert len(tails) == 2
    tails.append("new", 6, 5, NOW, b"r06")
    assert len(tails) == 1
    assert tails.read("old", 0, 10, None, 1 << 20, NOW) is None
    assert tails.bytes == 4 * row


def test_one_topic_over_the_byte_limit_drops_its_oldest_tenth() -> None:
    row = ROW_OVERHEAD + 3
    tails = Tails(TailLimits(bytes=20 * row))
    prev = 0
    for seq in range(100, 121):
        tails.append("t", seq, prev, NOW, b"r%02d" % (seq % 100))
        prev = seq
    assert tails.bytes <= 20 * row
    assert tails.messages() == 19  # 21 rows, over by one: the oldest 2 (a tenth) went
    assert tails.read("t", 101, 100, None, 1 << 20, NOW) is not None
    assert tails.read("t", 100, 100, None, 1 << 20, NOW) is None


def test_rows_older_than_the_stream_keeps_are_never_served() -> None:
    tails = Tails(TailLimits(max_age_ms=1000))
    tails.append("t", 1, 0, NOW - 5000, b"r1")
    tails.append("t", 2, 1, NOW - 10, b"r2")
    assert tails.read("t", 0, 100, None, 1 << 20, NOW) is None, "1 expired: maybe gone there"
    hit = tails.read("t", 1, 100, None, 1 << 20, NOW)
    assert hit is not None
    assert seqs_of(hit.rows) == [2]
    assert tails.bytes == len(b"r2") + ROW_OVERHEAD


def test_a_long_tail_still_answers_after_dropping_most_of_it() -> None:
    tails = filled(list(range(1, 5001)), limits=TailLimits(messages=100))
    hit = tails.read("t", 4950, 1000, None, 1 << 20, NOW)
    assert hit is not None
    assert seqs_of(hit.rows) == list(range(4951, 5001))
    assert tails.messages() == 100


def test_a_zero_limit_turns_the_tail_off() -> None:
    assert not Tails(TailLimits(bytes=0)).enabled
    assert not Tails(TailLimits(messages=0)).enabled
    assert Tails(TailLimits()).enabled
