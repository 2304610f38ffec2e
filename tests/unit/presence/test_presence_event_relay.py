"""The relay stores a session's events in order, retries, and a new leader re-sends."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from haws.common.lifecycle import LifecycleEvent
from haws.common.logs import get_logger
from haws.presence.event_relay import EventRelay
from tests.support.clock import ManualClock
from tests.support.waiting import eventually


class MemorySink:
    """Stores by id once (as the stream's duplicate window does); can fail on demand."""

    def __init__(self) -> None:
        self.stored: list[LifecycleEvent] = []
        self.ids: set[str] = set()
        self.failures = 0

    async def store(self, event: LifecycleEvent) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("jetstream away")
        if event.id not in self.ids:
            self.ids.add(event.id)
            self.stored.append(event)


def event(session: str, n: int) -> LifecycleEvent:
    return LifecycleEvent(f"{session}:{n}:0", "join", session, None, "n", "c", 1, 0, topic=f"t{n}")


def relay(sink: MemorySink, clock: ManualClock) -> EventRelay:
    return EventRelay(
        sink, get_logger("test"), registry=CollectorRegistry(), resend_window=30.0, clock=clock
    )


async def test_events_of_a_session_are_stored_in_order_through_failures() -> None:
    sink, clock = MemorySink(), ManualClock()
    r = relay(sink, clock)
    r.start()
    try:
        r.activate()
        sink.failures = 3
        r.record([event("a", 1), event("a", 2)])
        r.record([event("b", 1), event("a", 3)])
        await eventually(lambda: len(sink.stored) == 4, message="stored")
        assert [e.id for e in sink.stored if e.session == "a"] == ["a:1:0", "a:2:0", "a:3:0"]
    finally:
        await r.stop()


async def test_a_follower_stores_nothing_and_resends_its_window_when_it_leads() -> None:
    sink, clock = MemorySink(), ManualClock()
    r = relay(sink, clock)
    r.start()
    try:
        r.record([event("a", 1)])
        clock.now += 31.0  # older than the re-send window: the old leader had time for it
        r.record([event("a", 2), event("b", 1)])
        await asyncio.sleep(0)
        assert sink.stored == []
        assert r.activate() == 2
        await eventually(lambda: len(sink.stored) == 2, message="re-sent")
        assert {e.id for e in sink.stored} == {"a:2:0", "b:1:0"}
        r.deactivate()
        r.record([event("a", 3)])
        await asyncio.sleep(0)
        assert len(sink.stored) == 2
    finally:
        await r.stop()


async def test_pending_events_are_bounded_while_jetstream_is_away() -> None:
    sink, clock = MemorySink(), ManualClock()
    r = EventRelay(
        sink,
        get_logger("test"),
        registry=CollectorRegistry(),
        resend_window=30.0,
        log_size=4,
        clock=clock,
    )
    r.activate()  # no workers started: nothing drains, as when every store fails
    r.record([event("a", n) for n in range(6)])
    assert r.pending == 4
    assert r.dropped._value.get() == 2
    r.deactivate()
    await r.stop()
