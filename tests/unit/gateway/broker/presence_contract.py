"""The ``PresenceCalls`` contract, run against the memory presence (unit) and the
real presence service over NATS (integration).

A subclass provides ``calls`` (a presence replica answers) and ``absent_calls``
(none runs). Sessions and nodes are unique per test.
"""

from __future__ import annotations

import uuid

import pytest

from haws.common import presence_protocol as pp
from haws.gateway.broker.seams import NoReplica, PresenceCalls
from tests.support.waiting import eventually


class PresenceContract:
    @pytest.fixture
    def session(self) -> str:
        return f"s-{uuid.uuid4().hex[:8]}"

    @pytest.fixture
    def node(self) -> str:
        return f"gw-{uuid.uuid4().hex[:8]}"

    async def test_every_claim_gets_a_larger_epoch_and_names_the_previous_node(
        self, calls: PresenceCalls, session: str, node: str
    ) -> None:
        first = await calls.claim(pp.Claim(session=session, node=node, conn="c1"))
        second = await calls.claim(pp.Claim(session=session, node=node + "-b", conn="c2"))
        assert 0 < first.epoch < second.epoch
        assert first.previous_node is None
        assert second.previous_node == node

    async def test_a_newer_claim_elsewhere_sends_takeover_to_the_old_node(
        self, calls: PresenceCalls, session: str, node: str
    ) -> None:
        received: list[pp.Takeover] = []
        feed = await calls.takeovers(node, received.append)
        try:
            await calls.claim(pp.Claim(session=session, node=node, conn="c1"))
            newer = await calls.claim(pp.Claim(session=session, node=node + "-b", conn="c2"))
            await eventually(lambda: bool(received), timeout=5, message="the takeover")
            assert received == [pp.Takeover(session=session, conn="c1", epoch=newer.epoch)]
        finally:
            await feed.stop()

    async def test_a_fresh_claim_of_an_unclaimed_session_claims_it(
        self, calls: PresenceCalls, session: str, node: str
    ) -> None:
        reply = await calls.claim(pp.Claim(session=session, node=node, conn="c1", fresh=True))
        assert reply.epoch > 0
        assert not reply.superseded

    async def test_a_fresh_claim_after_a_newer_claim_is_superseded_and_changes_nothing(
        self, calls: PresenceCalls, session: str, node: str
    ) -> None:
        """The resume elsewhere (newer) landed first: the fresh claim must not take
        the session back, nor send a takeover to the resumed connection."""
        received: list[pp.Takeover] = []
        elsewhere = node + "-b"
        feed = await calls.takeovers(elsewhere, received.append)
        try:
            newer = await calls.claim(pp.Claim(session=session, node=elsewhere, conn="c2"))
            late = await calls.claim(pp.Claim(session=session, node=node, conn="c1", fresh=True))
            assert (late.epoch, late.superseded) == (0, True)
            event = await calls.event(pp.Event("sub", session, elsewhere, "c2", newer.epoch, "r"))
            assert (event.ok, event.stale) == (True, False)  # the newer one still owns it
            then = await calls.claim(pp.Claim(session=session, node=node, conn="c3"))
            assert then.epoch > newer.epoch  # the superseded claim took no epoch
            await eventually(lambda: bool(received), timeout=5, message="c3's takeover")
            assert received == [pp.Takeover(session=session, conn="c2", epoch=then.epoch)]
        finally:
            await feed.stop()

    async def test_a_claim_repeated_by_its_connection_keeps_its_epoch(
        self, calls: PresenceCalls, session: str, node: str
    ) -> None:
        """A gateway retries a claim whose reply was lost: the retry must neither take
        a new epoch (a slow first attempt would then fence its own connection) nor
        count as superseded, fresh or not."""
        received: list[pp.Takeover] = []
        feed = await calls.takeovers(node, received.append)
        try:
            claim = pp.Claim(session=session, node=node, conn="c1", fresh=True)
            first = await calls.claim(claim)
            again = await calls.claim(claim)
            assert (again.epoch, again.superseded) == (first.epoch, False)
            event = await calls.event(pp.Event("sub", session, node, "c1", first.epoch, "r"))
            assert (event.ok, event.stale) == (True, False)
            other = await calls.claim(pp.Claim(session=session, node=node, conn="c2"))
            assert other.epoch > first.epoch  # another connection still takes over
            await eventually(lambda: bool(received), timeout=5, message="c2's takeover")
            assert received == [pp.Takeover(session=session, conn="c1", epoch=other.epoch)]
        finally:
            await feed.stop()

    async def test_an_event_with_an_old_epoch_is_stale(
        self, calls: PresenceCalls, session: str, node: str
    ) -> None:
        old = await calls.claim(pp.Claim(session=session, node=node, conn="c1"))
        new = await calls.claim(pp.Claim(session=session, node=node, conn="c2"))
        fresh = await calls.event(pp.Event("sub", session, node, "c2", new.epoch, "room"))
        stale = await calls.event(pp.Event("sub", session, node, "c1", old.epoch, "room"))
        assert (fresh.ok, fresh.stale) == (True, False)
        assert (stale.ok, stale.stale) == (False, True)

    async def test_a_batch_applies_each_item_as_alone_and_answers_in_order(
        self, calls: PresenceCalls, session: str, node: str
    ) -> None:
        """Claims first (epochs as single claims get them, a fresh one superseded by
        a claim earlier in the batch), then events in order, stale ones stale."""
        other = session + "-b"
        reply = await calls.batch(
            pp.Batch(
                claims=[
                    pp.Claim(session=session, node=node, conn="c1"),
                    pp.Claim(session=other, node=node, conn="c2"),
                    pp.Claim(session=session, node=node, conn="c3"),
                    pp.Claim(session=session, node=node, conn="c4", fresh=True),
                ]
            )
        )
        first, second, third, late = reply.claims
        assert reply.events == []
        assert 0 < first.epoch < third.epoch
        assert second.epoch > 0
        assert second.previous_node is None
        assert third.previous_node == node
        assert (late.epoch, late.superseded) == (0, True)
        topic = f"room.{uuid.uuid4().hex[:8]}"
        events = await calls.batch(
            pp.Batch(
                events=[
                    pp.Event("sub", session, node, "c3", third.epoch, topic),
                    pp.Event("sub", session, node, "c1", first.epoch, topic),
                    pp.Event("sub", other, node, "c2", second.epoch, topic),
                    pp.Event("unsub", other, node, "c2", second.epoch, topic),
                ]
            )
        )
        assert [(e.ok, e.stale) for e in events.events] == [
            (True, False),
            (False, True),
            (True, False),
            (True, False),
        ]
        assert events.claims == []

        async def listed() -> bool:
            members = (await calls.query(pp.Query(topic))).members
            return [m["session"] for m in members] == [session]  # ``other`` came and went

        await eventually(listed, timeout=5, message="the batch's member")

    async def test_members_of_a_topic_are_who_subscribed_with_presence(
        self, calls: PresenceCalls, session: str, node: str
    ) -> None:
        topic = f"room.{uuid.uuid4().hex[:8]}"
        reply = await calls.claim(pp.Claim(session=session, node=node, conn="c1", user="ann"))
        await calls.heartbeat(pp.Heartbeat(node, 1))
        await calls.event(pp.Event("sub", session, node, "c1", reply.epoch, topic))

        async def listed() -> bool:
            members = (await calls.query(pp.Query(topic))).members
            return [(m["session"], m["node"], m.get("user")) for m in members] == [
                (session, node, "ann")
            ]

        await eventually(listed, timeout=5, message="the member")

    async def test_a_heartbeat_is_answered_with_a_lease(
        self, calls: PresenceCalls, node: str
    ) -> None:
        reply = await calls.heartbeat(pp.Heartbeat(node, 0))
        assert reply.lease > 0
        assert reply.lost == []

    async def test_without_a_replica_every_call_says_so(
        self, absent_calls: PresenceCalls, session: str, node: str
    ) -> None:
        with pytest.raises(NoReplica):
            await absent_calls.claim(pp.Claim(session=session, node=node, conn="c1"))
        with pytest.raises(NoReplica):
            await absent_calls.heartbeat(pp.Heartbeat(node, 0))
        with pytest.raises(NoReplica):
            await absent_calls.query(pp.Query("room"))
        with pytest.raises(NoReplica):
            await absent_calls.event(pp.Event("close", session, node, "c1", 1))
        with pytest.raises(NoReplica):
            await absent_calls.batch(pp.Batch([pp.Claim(session=session, node=node, conn="c1")]))
