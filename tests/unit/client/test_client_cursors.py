"""Per-topic cursors: duplicates dropped, prev breaks and lost ranges reported."""

from __future__ import annotations

from haws.client.cursors import Cursors, Verdict


def deliver(cursors: Cursors, topic: str, seq: int, prev: int) -> Verdict:
    verdict = cursors.check(topic, seq)
    if verdict is Verdict.DELIVER:
        cursors.advance(topic, seq, prev)
    return verdict


def cursor_of(cursors: Cursors, topic: str) -> int | None:
    state = cursors.get(topic)
    assert state is not None, f"{topic} is not subscribed"
    return state.cursor


def test_a_chained_message_is_delivered_and_moves_the_cursor() -> None:
    gaps: list[tuple[str, int, int]] = []
    cursors = Cursors(on_gap=lambda *g: gaps.append(g))
    cursors.add("t", since=None, presence=False)
    cursors.confirm("t", 10)
    assert deliver(cursors, "t", 11, 10) is Verdict.DELIVER
    assert deliver(cursors, "t", 14, 11) is Verdict.DELIVER
    assert cursors.resumable() == {"t": 14}
    assert gaps == []


def test_seq_at_or_below_the_cursor_is_a_dropped_duplicate() -> None:
    cursors = Cursors()
    cursors.add("t", since=5, presence=False)
    assert deliver(cursors, "t", 5, 4) is Verdict.DUPLICATE
    assert deliver(cursors, "t", 3, 0) is Verdict.DUPLICATE
    assert cursors.duplicates == 2
    assert cursor_of(cursors, "t") == 5


def test_a_prev_break_is_reported_and_the_message_still_delivered() -> None:
    gaps: list[tuple[str, int, int]] = []
    cursors = Cursors(on_gap=lambda *g: gaps.append(g))
    cursors.add("t", since=7, presence=False)
    assert deliver(cursors, "t", 12, 9) is Verdict.DELIVER
    assert gaps == [("t", 7, 9)]
    assert cursors.gaps == 1
    assert cursor_of(cursors, "t") == 12


def test_check_alone_does_not_move_the_cursor() -> None:
    """A message that could not be handed over (connection lost) comes again on resume."""
    cursors = Cursors()
    cursors.add("t", since=3, presence=False)
    assert cursors.check("t", 4) is Verdict.DELIVER
    assert cursors.check("t", 4) is Verdict.DELIVER
    assert cursor_of(cursors, "t") == 3


def test_a_lost_range_is_reported_as_a_gap_after_the_range_start() -> None:
    gaps: list[tuple[str, int, int]] = []
    cursors = Cursors(on_gap=lambda *g: gaps.append(g))
    cursors.add("t", since=0, presence=False)
    cursors.lost("t", 1, 40)
    cursors.lost("other", 1, 2)  # not subscribed: ignored
    assert gaps == [("t", 0, 40)]


def test_unknown_topics_and_unconfirmed_or_presence_ones_are_not_resumed_by_hello() -> None:
    cursors = Cursors()
    assert cursors.check("nope", 1) is Verdict.UNKNOWN
    cursors.add("live", since=None, presence=False)  # no ok yet, no position
    cursors.add("hist", since=4, presence=False)  # no ok yet
    cursors.add("who", since=None, presence=True)
    cursors.confirm("who", 9)
    assert cursors.resumable() == {}
    cursors.confirm("live", 2)
    cursors.confirm("hist", 100)  # since wins over the ok seq: history is coming
    assert cursors.resumable() == {"live": 2, "hist": 4}


def test_first_message_before_the_ok_sets_the_cursor_without_a_gap() -> None:
    gaps: list[tuple[str, int, int]] = []
    cursors = Cursors(on_gap=lambda *g: gaps.append(g))
    cursors.add("t", since=None, presence=False)
    assert deliver(cursors, "t", 8, 6) is Verdict.DELIVER
    cursors.confirm("t", 6)
    assert cursors.resumable() == {"t": 8}
    assert gaps == []
