"""PresenceLink.stop while a claim is in flight to a presence that no longer answers;
and a claim whose first request went unanswered (a replica died with it) sent again.

The claim's request is bounded by its own timeout, but stop must not rely on
it: on Python 3.11 a cancellation can be swallowed by ``asyncio.wait_for`` in
nats-py, and a gateway's shutdown (or a test's teardown) would then wait for
ever. Stop gives claims ``flush_timeout``, then cancels until they are done.
"""

from __future__ import annotations

import asyncio

from haws.common import presence_protocol as pp
from haws.common.logs import get_logger
from haws.gateway.broker.seams import Feed, TakeoverHandler
from haws.gateway.sessions.fence import Fence
from haws.gateway.sessions.presence_link import PresenceLink
from tests.support.waiting import eventually

FLUSH = 0.2


class SilentPresence:
    """Answers no claim; the first cancellation of each is swallowed, as
    ``wait_for`` does on 3.11 when it lands together with a reply."""

    def __init__(self) -> None:
        self.claims = 0
        self.swallowed = 0

    async def claim(self, claim: pp.Claim) -> pp.ClaimReply:
        self.claims += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.swallowed += 1
        await asyncio.Event().wait()  # still no answer
        raise AssertionError("unreachable")

    async def event(self, event: pp.Event) -> pp.EventReply:
        return pp.EventReply(ok=True)

    async def batch(self, batch: pp.Batch) -> pp.BatchReply:
        claims = [await self.claim(claim) for claim in batch.claims]
        return pp.BatchReply(claims, [await self.event(event) for event in batch.events])

    async def query(self, query: pp.Query) -> pp.QueryReply:
        return pp.QueryReply([])

    async def heartbeat(self, beat: pp.Heartbeat) -> pp.HeartbeatReply:
        return pp.HeartbeatReply(lease=1.0)

    async def takeovers(self, node: str, on_takeover: TakeoverHandler) -> Feed:
        raise NotImplementedError


async def test_stop_ends_a_claim_in_flight_that_swallows_its_cancellation() -> None:
    calls = SilentPresence()
    link = PresenceLink(
        calls, get_logger("test"), node="n1", fence=Fence(1.0), heartbeat_interval=1.0
    )
    epochs: list[int] = []
    claim = pp.Claim(session="s1", node="n1", conn="c1")
    link.claim_soon(claim, epochs.append, lambda: None)
    link.event(pp.Event(kind="sub", session="s1", node="n1", conn="c1", topic="t", epoch=0))
    await eventually(lambda: calls.claims == 1, message="the claim was sent")
    assert link.claiming("c1")

    loop = asyncio.get_running_loop()
    started = loop.time()
    stopping = asyncio.create_task(link.stop(flush_timeout=FLUSH))
    done, _ = await asyncio.wait({stopping}, timeout=5.0)
    assert stopping in done, "PresenceLink.stop waited for a claim nobody answers"
    stopping.result()
    assert FLUSH <= loop.time() - started < 3.0
    assert calls.swallowed == 1
    assert epochs == [0]  # released unfenced: its held events are dropped, not left waiting
    assert not link.claiming("c1")


class ForgetfulPresence(SilentPresence):
    """The first claim is lost with a replica (the request times out); later ones
    are answered."""

    async def claim(self, claim: pp.Claim) -> pp.ClaimReply:
        self.claims += 1
        if self.claims == 1:
            raise TimeoutError
        return pp.ClaimReply(epoch=7)


async def test_a_claim_left_unanswered_is_sent_again_and_its_events_follow() -> None:
    calls = ForgetfulPresence()
    link = PresenceLink(
        calls, get_logger("test"), node="n1", fence=Fence(1.0), heartbeat_interval=1.0
    )
    epochs: list[int] = []
    link.claim_soon(pp.Claim(session="s1", node="n1", conn="c1"), epochs.append, lambda: None)
    await eventually(lambda: epochs == [7], timeout=5, message="the retried claim's epoch")
    assert calls.claims == 2
    await link.stop(flush_timeout=FLUSH)


async def test_a_claim_is_sent_at_most_twice() -> None:
    class Lost(SilentPresence):
        async def claim(self, claim: pp.Claim) -> pp.ClaimReply:
            self.claims += 1
            raise TimeoutError

    calls = Lost()
    link = PresenceLink(
        calls, get_logger("test"), node="n1", fence=Fence(1.0), heartbeat_interval=1.0
    )
    assert await link.claim(pp.Claim(session="s1", node="n1", conn="c1")) == 0  # unfenced
    assert calls.claims == 2
    await link.stop(flush_timeout=FLUSH)
