"""A topic's shared run: the messages of one iteration reach each live subscriber
in one write, in order behind what was queued before them, never a subscriber
that joined after them, and over the queue's limits they close it 4008."""

from __future__ import annotations

from haws.common.logs import get_logger
from haws.common.messages import StoredMessage
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.delivery.flusher import Flusher
from haws.gateway.fanout.frame_cache import FrameCache
from haws.gateway.fanout.subscription import Subscription
from haws.gateway.fanout.topic import Topic
from haws.gateway.metrics import GatewayMetrics
from haws.protocol.codec import encode_payload
from haws.protocol.errors import CloseCode
from tests.support.fake_socket import FakeTransport, socketless_connection
from tests.support.waiting import eventually

TOPIC = "t"


def stored(seq: int) -> StoredMessage:
    return StoredMessage(TOPIC, seq, seq - 1, 0, encode_payload({"n": seq}))


async def topic_and_flusher() -> tuple[Topic, Flusher]:
    log = get_logger("test")
    flusher = Flusher(log)
    broker = MemoryBroker()
    topic = Topic(TOPIC, broker, broker, GatewayMetrics(), log, flusher=flusher)
    await topic.start()
    return topic, flusher


def subscribe(topic: Topic, flusher: Flusher, session: str, frames: int = 100) -> FakeTransport:
    conn, wire, _ = socketless_connection(session=session, flusher=flusher, frames=frames)
    topic.subscribers[conn] = Subscription(
        conn, TOPIC, live=True, presence=False, seq=topic.last_seq
    )
    return wire


def seqs(wire: FakeTransport) -> list[int]:
    return [f["seq"] for f in wire.frames() if f.get("op") == "msg"]


async def test_one_iteration_reaches_each_subscriber_in_one_write() -> None:
    topic, flusher = await topic_and_flusher()
    wires = [subscribe(topic, flusher, f"s{i}") for i in range(3)]
    for seq in (1, 2, 3):
        await topic.advance(stored(seq))
    await eventually(lambda: all(seqs(w) == [1, 2, 3] for w in wires), message="all three")
    assert [len(w.writes) for w in wires] == [1, 1, 1]
    assert wires[0].writes == wires[1].writes == wires[2].writes  # the same bytes
    await topic.stop()


async def test_a_subscriber_registered_after_a_message_does_not_get_it() -> None:
    topic, flusher = await topic_and_flusher()
    early = subscribe(topic, flusher, "early")
    await topic.advance(stored(1))
    late = subscribe(topic, flusher, "late")  # same iteration: the run is not written yet
    await topic.advance(stored(2))
    await eventually(lambda: seqs(early) == [1, 2] and seqs(late) == [2], message="both")
    await topic.stop()


async def test_run_frames_queue_behind_frames_sent_before_them() -> None:
    topic, flusher = await topic_and_flusher()
    conn, wire, _ = socketless_connection(session="s", flusher=flusher)
    topic.subscribers[conn] = Subscription(conn, TOPIC, live=True, presence=False, seq=0)
    conn.send_obj({"op": "pong"})
    await topic.advance(stored(1))
    await eventually(lambda: len(wire.frames()) == 2, message="two frames")
    assert [f["op"] for f in wire.frames()] == ["pong", "msg"]
    await topic.stop()


async def test_a_run_over_the_queue_limit_closes_4008() -> None:
    topic, flusher = await topic_and_flusher()
    conn, wire, _ = socketless_connection(session="s", flusher=flusher, frames=4, grace=0.05)
    topic.subscribers[conn] = Subscription(conn, TOPIC, live=True, presence=False, seq=0)
    for seq in range(1, 7):  # six frames in one iteration, four fit
        await topic.advance(stored(seq))
    await eventually(lambda: conn.sent_close == CloseCode.SLOW_CONSUMER, message="4008")
    assert seqs(wire) == []  # nothing of an overflowed run is written
    await conn.stop()
    await topic.stop()


async def test_going_live_during_a_run_writes_nothing_early_and_skips_what_it_had() -> None:
    """A catch-up that ends mid-run (a resume, in a failover) neither splits the run
    for the others nor gets the run's earlier messages a second time."""
    topic, flusher = await topic_and_flusher()
    early = subscribe(topic, flusher, "early")
    conn, late, _ = socketless_connection(session="late", flusher=flusher, frames=100)
    sub = Subscription(conn, TOPIC, live=False, presence=False, seq=0)
    topic.subscribers[conn] = sub
    for seq in (1, 2):
        await topic.advance(stored(seq))
    # What a catch-up does at its end: deliver the buffer, then go live, in one step.
    for message in sub.buffer:
        conn.send(FrameCache(message).encoded(conn.codec))
    sub.go_live()
    await topic.advance(stored(3))
    await eventually(lambda: seqs(early) == [1, 2, 3] and seqs(late) == [1, 2, 3], message="all")
    assert len(early.writes) == 1  # one write of the whole run: going live forced none
    await topic.stop()


async def test_leaving_during_a_run_gets_the_run_first() -> None:
    topic, flusher = await topic_and_flusher()
    stays = subscribe(topic, flusher, "stays")
    leaves = subscribe(topic, flusher, "leaves")
    await topic.advance(stored(1))
    gone = next(c for c in topic.subscribers if c.session == "leaves")
    del topic.subscribers[gone]  # unsubscribed after message 1, in the same iteration
    await topic.advance(stored(2))
    await eventually(lambda: seqs(stays) == [1, 2], message="the one that stays")
    assert seqs(leaves) == [1]
    await topic.stop()
