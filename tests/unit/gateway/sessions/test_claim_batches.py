"""Claims leave in batches when many wait, alone otherwise (issue 14).

The presence here is the memory one (it passes the ``PresenceCalls`` contract),
counting which calls the claims took, with switches for the failures a batch
meets: a replica that predates batches, a lost reply, a stop mid-flight.
"""

from __future__ import annotations

import asyncio

import pytest

from haws.common import presence_protocol as pp
from haws.common.logs import get_logger
from haws.gateway.broker.memory_presence import MemoryPresence
from haws.gateway.broker.seams import NoReplica
from haws.gateway.sessions import claim_batches
from haws.gateway.sessions.claim_batches import ClaimBatches


class CountingPresence(MemoryPresence):
    def __init__(self) -> None:
        super().__init__()
        self.singles = 0
        self.batch_sizes: list[int] = []
        self.old = False
        """Predates batches: the batch subject has no responder."""
        self.lose_batches = 0
        """The next this many batches go unanswered (a replica died with them)."""
        self.gate: asyncio.Event | None = None

    async def claim(self, claim: pp.Claim) -> pp.ClaimReply:
        self.singles += 1
        return await super().claim(claim)

    async def batch(self, batch: pp.Batch) -> pp.BatchReply:
        if self.old:
            raise NoReplica("no responders on the batch subject")
        self.batch_sizes.append(len(batch.claims))
        if self.gate is not None:
            await self.gate.wait()
        if self.lose_batches:
            self.lose_batches -= 1
            raise TimeoutError
        self.singles -= len(batch.claims)  # applied through claim(): not singles
        return await super().batch(batch)


def claims(n: int) -> list[pp.Claim]:
    return [pp.Claim(session=f"s{i}", node="n1", conn=f"c{i}") for i in range(n)]


async def all_replies(batches: ClaimBatches, items: list[pp.Claim]) -> list[pp.ClaimReply | None]:
    futures = [batches.send(claim) for claim in items]
    async with asyncio.timeout(5):
        return list(await asyncio.gather(*futures))


async def test_a_claim_alone_goes_alone() -> None:
    presence = CountingPresence()
    replies = await all_replies(ClaimBatches(presence, get_logger("test")), claims(1))
    assert replies[0] is not None
    assert replies[0].epoch > 0
    assert (presence.singles, presence.batch_sizes) == (1, [])


async def test_many_claims_at_once_leave_in_a_few_batches_each_with_its_own_reply() -> None:
    presence = CountingPresence()
    batches = ClaimBatches(presence, get_logger("test"))
    many = claims(500)
    replies = await all_replies(batches, many)
    assert all(r is not None and r.epoch > 0 for r in replies)
    assert presence.singles == 0
    assert sum(presence.batch_sizes) == 500
    assert max(presence.batch_sizes) <= claim_batches.BATCH
    assert len(presence.batch_sizes) <= claim_batches.SENDERS + 500 // claim_batches.BATCH
    # Each reply is its own claim's: a second claim of each session from another
    # connection names this node as the previous one and takes a larger epoch.
    again = [pp.Claim(session=c.session, node="n2", conn=c.conn + "b") for c in many[:5]]
    for claim, first in zip(again, replies, strict=False):
        reply = await presence.claim(claim)
        assert first is not None
        assert (reply.previous_node, reply.epoch > first.epoch) == ("n1", True)


async def test_replicas_that_predate_batches_get_the_claims_one_by_one() -> None:
    presence = CountingPresence()
    presence.old = True
    replies = await all_replies(ClaimBatches(presence, get_logger("test")), claims(40))
    assert all(r is not None and r.epoch > 0 for r in replies)
    assert presence.singles == 40


async def test_an_unanswered_batch_is_sent_once_more() -> None:
    presence = CountingPresence()
    presence.lose_batches = 1
    replies = await all_replies(ClaimBatches(presence, get_logger("test")), claims(20))
    assert all(r is not None and r.epoch > 0 for r in replies)
    assert presence.batch_sizes == [20, 20]  # queued in one step: one batch, then again


async def test_a_batch_unanswered_twice_leaves_its_claims_unfenced() -> None:
    presence = CountingPresence()
    presence.lose_batches = 1_000
    replies = await all_replies(ClaimBatches(presence, get_logger("test")), claims(20))
    assert replies == [None] * 20
    assert presence.batch_sizes == [20, 20]  # sent twice, no more


async def test_stop_answers_every_claim_in_flight_or_waiting() -> None:
    presence = CountingPresence()
    presence.gate = asyncio.Event()  # never opened: no batch is answered
    batches = ClaimBatches(presence, get_logger("test"))
    futures = [batches.send(claim) for claim in claims(1_000)]
    await asyncio.sleep(0)  # the senders take their first batches
    assert batches.in_flight
    async with asyncio.timeout(5):
        await batches.stop(timeout=0.1)
        replies = await asyncio.gather(*futures)
    assert replies == [None] * 1_000
    assert not batches.in_flight


@pytest.mark.parametrize("n", [2, claim_batches.BATCH, claim_batches.BATCH + 1])
async def test_claims_arriving_while_batches_fly_leave_after_them(n: int) -> None:
    presence = CountingPresence()
    presence.gate = asyncio.Event()
    batches = ClaimBatches(presence, get_logger("test"))
    first = [batches.send(claim) for claim in claims(claim_batches.SENDERS)]
    await asyncio.sleep(0)
    later = [batches.send(pp.Claim(session=f"later{i}", node="n1", conn=f"l{i}")) for i in range(n)]
    presence.gate.set()
    async with asyncio.timeout(5):
        replies = await asyncio.gather(*first, *later)
    assert all(r is not None and r.epoch > 0 for r in replies)


async def test_claims_that_may_linger_share_one_request() -> None:
    presence = CountingPresence()
    batches = ClaimBatches(presence, get_logger("test"), linger=0.05)
    first = batches.send(claims(1)[0], linger=True)
    await asyncio.sleep(0)  # a sender is free, and lingers
    rest = [batches.send(claim, linger=True) for claim in claims(30)[1:]]
    async with asyncio.timeout(5):
        replies = await asyncio.gather(first, *rest)
    assert all(r is not None and r.epoch > 0 for r in replies)
    assert presence.batch_sizes == [30]


async def test_a_claim_somebody_awaits_does_not_wait_for_a_lingering_one() -> None:
    presence = CountingPresence()
    batches = ClaimBatches(presence, get_logger("test"), linger=60.0)
    lingering = batches.send(pp.Claim(session="new", node="n1", conn="c1"), linger=True)
    await asyncio.sleep(0)
    async with asyncio.timeout(5):  # far below the linger
        resumed = await batches.send(pp.Claim(session="resumed", node="n1", conn="c2"))
        assert resumed is not None
        assert resumed.epoch > 0
        assert (await lingering) is not None  # it left with the urgent one
    await batches.stop(timeout=0.1)
