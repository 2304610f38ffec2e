"""A batch: its wire form and limit; its items sessions at once, one session's in
order, none after its failure."""

from __future__ import annotations

import asyncio

import msgpack
import pytest

from haws.common import presence_protocol as pp
from haws.presence.batches import event_failed, in_session_order
from haws.protocol.errors import BadRequest

OK = pp.EventReply(ok=True)
FAILED = pp.EventReply(ok=False)
STALE = pp.EventReply(ok=False, stale=True)


def event(session: str, topic: str) -> pp.Event:
    return pp.Event("sub", session, "n", "c", 1, topic)


async def test_a_failed_event_stops_its_session_and_no_other() -> None:
    applied: list[tuple[str, str | None]] = []

    async def apply(e: pp.Event) -> pp.EventReply:
        applied.append((e.session, e.topic))
        if e.topic == "stale":
            return STALE
        return FAILED if e.topic == "boom" else OK

    items = [
        event("a", "1"),
        event("b", "1"),
        event("a", "boom"),
        event("b", "stale"),
        event("a", "3"),  # after a's failure: not tried
        event("b", "3"),  # after b's stale: tried (stale is an answer, not a failure)
    ]
    replies = await in_session_order(items, apply, event_failed)
    assert replies == [OK, OK, FAILED, STALE, FAILED, OK]
    assert ("a", "3") not in applied
    assert [t for s, t in applied if s == "a"] == ["1", "boom"]
    assert [t for s, t in applied if s == "b"] == ["1", "stale", "3"]


async def test_sessions_run_at_once_and_each_in_its_order() -> None:
    """A slow item of one session does not hold back another session's items."""
    gate = asyncio.Event()
    applied: list[tuple[str, str | None]] = []

    async def apply(e: pp.Event) -> pp.EventReply:
        if e.session == "slow":
            await gate.wait()
        applied.append((e.session, e.topic))
        if e.session == "fast" and e.topic == "2":
            gate.set()  # only reachable while "slow" waits
        return OK

    items = [event("slow", "1"), event("fast", "1"), event("slow", "2"), event("fast", "2")]
    async with asyncio.timeout(5):
        replies = await in_session_order(items, apply, event_failed)
    assert replies == [OK] * 4
    assert applied.index(("fast", "2")) < applied.index(("slow", "1"))
    assert applied.index(("slow", "1")) < applied.index(("slow", "2"))


def test_a_batch_round_trips_and_ignores_fields_it_does_not_know() -> None:
    batch = pp.Batch(
        claims=[pp.Claim("s1", "n", "c1", user="ann", topics=["t"], fresh=True)],
        events=[event("s1", "t"), pp.Event("close", "s1", "n", "c1", 1, reason="client")],
    )
    assert pp.Batch.decode(batch.encode()) == batch
    reply = pp.BatchReply([pp.ClaimReply(3, "n0"), pp.ClaimReply(0, superseded=True)], [OK, STALE])
    assert pp.BatchReply.decode(reply.encode()) == reply
    newer = msgpack.packb({"claims": [{"session": "s", "node": "n", "conn": "c", "later": 1}]})
    assert pp.Batch.decode(newer) == pp.Batch(claims=[pp.Claim("s", "n", "c")])


@pytest.mark.parametrize(
    "raw",
    [
        b"\x01garbage",
        msgpack.packb([1, 2]),
        msgpack.packb({"claims": ["not a claim"]}),
        msgpack.packb({"events": [{"kind": "sub"}]}),  # fields missing
    ],
)
def test_a_batch_that_does_not_decode_is_a_bad_request(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        pp.Batch.decode(raw)


def test_a_batch_over_the_limit_is_a_bad_request() -> None:
    at_limit = pp.Batch(claims=[pp.Claim(f"s{i}", "n", "c") for i in range(pp.BATCH_MAX)])
    assert len(pp.Batch.decode(at_limit.encode()).claims) == pp.BATCH_MAX
    over = pp.Batch(claims=at_limit.claims, events=[event("s0", "t")])
    with pytest.raises(BadRequest, match="at most"):
        pp.Batch.decode(over.encode())
