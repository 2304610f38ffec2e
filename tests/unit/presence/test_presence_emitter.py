"""Only the active replica publishes; a new one re-sends what its predecessor had not."""

from __future__ import annotations

from haws.common.presence_protocol import Change
from haws.presence.emitter import ChangeEmitter
from haws.presence.metrics import PresenceMetrics
from tests.unit.presence.fakes import LOG, ListSink


def join(session: str, revision: int) -> Change:
    return Change("join", "t", session, None, revision)


def emitter() -> tuple[ChangeEmitter, ListSink]:
    sink = ListSink()
    return ChangeEmitter(sink, PresenceMetrics(), LOG, log_size=100), sink


async def test_follower_logs_without_publishing() -> None:
    em, sink = emitter()
    await em.record(1, [join("a", 1)])
    assert sink.sent == []
    assert em.processed == 1


async def test_new_leader_resends_after_its_predecessor_then_publishes_live() -> None:
    em, sink = emitter()
    for rev, session in [(1, "a"), (2, "b"), (3, "c")]:
        await em.record(rev, [join(session, rev)])
    assert await em.activate(after=1) == 2
    await em.record(4, [join("d", 4)])
    assert [c.session for c in sink.changes()] == ["b", "c", "d"]
    assert sink.sent[0][0] == "haws.pres.t"
    assert em.emitted() == 4


async def test_a_lagging_follower_does_not_repeat_what_the_old_leader_sent() -> None:
    em, sink = emitter()
    await em.record(1, [join("a", 1)])
    await em.activate(after=3)  # the old leader got to revision 3
    await em.record(2, [join("b", 2)])  # this replica only now sees 2 and 3
    await em.record(3, [join("c", 3)])
    await em.record(5, [join("e", 5)])
    assert [c.session for c in sink.changes()] == ["e"]


async def test_trim_and_unseen_changes() -> None:
    em, sink = emitter()
    await em.record(1, [join("a", 1)])
    await em.record(2, [join("b", 2)])
    em.trim(1)
    assert await em.activate(after=0) == 1  # "a" was trimmed: the leader had sent it
    await em.record(2, [Change("leave", "t", "z", None, 0)], unseen=True)
    assert [c.session for c in sink.changes()] == ["b", "z"]
    em.deactivate()
    await em.record(9, [join("x", 9)])
    assert len(sink.sent) == 2
