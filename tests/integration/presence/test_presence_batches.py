"""``haws.presence.batch`` on a real replica: many claims and events in one request
(issue 14). Each item is applied as alone; bad input is refused without losing
the rest; a session's events keep their order inside a batch."""

from __future__ import annotations

from haws.common import names
from haws.common import presence_protocol as pp
from haws.presence.node import PresenceNode
from tests.integration.presence.presence_support import GatewayDouble, Recorder, unique


async def ask(gw: GatewayDouble, data: bytes) -> pp.BatchReply:
    reply = await gw.nc.request(names.PRESENCE_BATCH, data, timeout=5)
    return pp.BatchReply.decode(reply.data)


def batches(presence: PresenceNode, outcome: str) -> float:
    value = presence.metrics.registry.get_sample_value(
        "haws_presence_batches_total", {"outcome": outcome}
    )
    return value or 0.0


async def test_a_batch_of_claims_then_events_joins_each_session_once(
    presence: PresenceNode, gw1: GatewayDouble, recorder: Recorder, topic: str
) -> None:
    sessions = [unique("b-") for _ in range(50)]
    async with gw1.beating():
        claimed = await ask(
            gw1,
            pp.Batch(
                claims=[pp.Claim(s, gw1.node, f"c-{s}", fresh=True) for s in sessions]
            ).encode(),
        )
        epochs = [reply.epoch for reply in claimed.claims]
        assert len(epochs) == 50
        assert all(epoch > 0 for epoch in epochs)
        # sub, unsub, sub of each session in one batch: its order is kept, so it ends
        # a member, with join, leave, join published in that order.
        events = [
            pp.Event(kind, s, gw1.node, f"c-{s}", epoch, topic)
            for s, epoch in zip(sessions, epochs, strict=True)
            for kind in ("sub", "unsub", "sub")
        ]
        applied = await ask(gw1, pp.Batch(events=events).encode())
        assert [(r.ok, r.stale) for r in applied.events] == [(True, False)] * 150
        await recorder.wait(lambda: all(len(recorder.of(s)) == 3 for s in sessions))
        assert all(recorder.of(s) == ["join", "leave", "join"] for s in sessions)
        assert await gw1.members(topic) == set(sessions)
    assert batches(presence, "ok") >= 2


async def test_a_bad_batch_is_refused_and_the_next_one_is_served(
    presence: PresenceNode, gw1: GatewayDouble, topic: str
) -> None:
    too_many = pp.Batch(
        claims=[pp.Claim(unique("x-"), gw1.node, "c") for _ in range(pp.BATCH_MAX + 1)]
    )
    assert await ask(gw1, too_many.encode()) == pp.BatchReply()
    assert await ask(gw1, b"\x01garbage") == pp.BatchReply()
    assert batches(presence, "bad_request") == 2
    # A bad item is refused alone; the others in its batch are applied.
    good = unique("ok-")
    reply = await ask(
        gw1,
        pp.Batch(
            claims=[pp.Claim("not a session!", gw1.node, "c"), pp.Claim(good, gw1.node, "c2")],
            events=[pp.Event("sub", good, gw1.node, "c2", 0, "bad topic!")],
        ).encode(),
    )
    assert reply.claims[0].epoch == 0
    assert reply.claims[1].epoch > 0
    assert reply.events == [pp.EventReply(ok=False)]
    for claim in too_many.claims[:3]:  # the refused batch claimed nothing
        assert (await gw1.claim(claim.session)).previous_node is None
