"""The subscriber's hot path reads seq, prev and the send time from raw frames."""

from __future__ import annotations

from typing import Any

import msgpack
import orjson

from bench.loadgen.connection import WsConnection
from bench.loadgen.dialects import Dialect, MsgpackDialect, SocketIoDialect, payload_data
from bench.loadgen.flow import Flow
from bench.loadgen.frames import BINARY, TEXT
from bench.loadgen.subscriber import Subscriber
from bench.loadgen.tally import Latencies


def msg(seq: int, prev: int, t: int) -> dict[str, Any]:
    return {"op": "msg", "topic": "a.b", "seq": seq, "prev": prev, "ts": 1, "data": payload_data(t)}


def feed(sub: Subscriber, payloads: list[tuple[int, bytes]], now: int = 1_000) -> None:
    """Hand ``payloads`` to ``sub`` as one read; needs a running loop for the connection."""
    conn = WsConnection(sub, "127.0.0.1", 9, "/ws", None)  # never connected: no socket
    sub.on_frames(conn, payloads, now)


async def test_haws_json_frames_are_tallied_and_timed() -> None:
    flow = Flow(1, 10)
    latencies = Latencies()
    sub = Subscriber(Dialect(), flow=flow, latencies=latencies)
    feed(sub, [(TEXT, orjson.dumps(msg(7, 0, 400))), (TEXT, orjson.dumps(msg(9, 7, 900)))])
    assert (sub.tally.count, sub.tally.last, sub.tally.breaks) == (2, 9, 0)
    assert list(latencies.samples) == [600, 100]
    assert flow.delivered == 2


async def test_batched_frames_are_split_on_newlines() -> None:
    sub = Subscriber(Dialect(batch=True))
    batch = b"\n".join(orjson.dumps(msg(s, s - 1, 0)) for s in (1, 2, 3))
    feed(sub, [(TEXT, batch)])
    assert sub.tally.count == 3
    assert sub.frames == 1


async def test_socketio_events_with_a_recovery_offset_are_read_the_same_way() -> None:
    sub = Subscriber(SocketIoDialect(), latencies=Latencies())
    frame = b'42["msg",' + orjson.dumps(msg(3, 2, 10)) + b',"MzQ1"]'
    feed(sub, [(TEXT, frame)], now=50)
    assert (sub.tally.count, sub.tally.last) == (1, 3)
    assert sub.latencies is not None
    assert list(sub.latencies.samples) == [40]


async def test_msgpack_frames_and_batches_are_unpacked() -> None:
    sub = Subscriber(MsgpackDialect())
    single = msgpack.packb(msg(1, 0, 0))
    batch = msgpack.packb([msg(2, 1, 0), msg(3, 2, 0)])
    feed(sub, [(BINARY, single), (BINARY, batch)])
    assert sub.tally.count == 3


async def test_replies_go_to_the_slow_path_not_the_tally() -> None:
    sub = Subscriber(Dialect())
    feed(sub, [(TEXT, b'{"op":"ok","id":1,"topic":"a.b","seq":5}')])
    assert sub.tally.count == 0


async def test_duplicates_do_not_count_as_delivered_for_flow_control() -> None:
    flow = Flow(1, 10)
    sub = Subscriber(Dialect(), flow=flow)
    frame = orjson.dumps(msg(1, 0, 0))
    feed(sub, [(TEXT, frame), (TEXT, frame)])
    assert flow.delivered == 1
    assert sub.tally.dups == 1


def server_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload


def test_the_scanner_counts_in_raw_bytes_and_hands_back_everything_else() -> None:
    from bench.loadgen.scanner import MsgScanner
    from bench.loadgen.tally import SeqTally

    head = Dialect().msg_head("a.b")
    assert head is not None
    tally = SeqTally()
    flow = Flow(1, 100)
    scanner = MsgScanner(head, tally, flow)
    scanner.latencies = Latencies()
    ok = server_frame(b'{"op":"ok","id":1,"topic":"a.b","seq":0}')
    other_topic = server_frame(orjson.dumps({**msg(5, 4, 0), "topic": "c.d"}))
    data = (
        server_frame(orjson.dumps(msg(1, 0, 10)))
        + ok
        + server_frame(orjson.dumps(msg(3, 2, 20)))  # prev 2 never came: a break
        + server_frame(orjson.dumps(msg(3, 2, 20)))  # and a duplicate
        + other_topic
    )
    cut = data + server_frame(orjson.dumps(msg(4, 3, 30)))[:-5]
    done, others = scanner.scan(cut, now=100)
    assert done == len(data)  # the last frame is incomplete: kept for the next chunk
    assert others == ok + other_topic
    assert (tally.count, tally.dups, tally.breaks, tally.first, tally.last) == (2, 1, 1, 1, 3)
    assert list(scanner.latencies.samples) == [90, 80]
    assert flow.delivered == 2


def test_socketio_heads_match_what_the_servers_send() -> None:
    head = SocketIoDialect().msg_head("a.b")
    frame = b'42["msg",' + orjson.dumps(msg(3, 2, 10)) + b"]"
    assert head is not None
    assert frame.startswith(head)
    assert Dialect(batch=True).msg_head("a.b") == Dialect().msg_head("a.b")
    assert MsgpackDialect().msg_head("a.b") is None


def test_the_scanner_counts_every_line_of_a_batch_of_msgs_only() -> None:
    from bench.loadgen.scanner import MsgScanner
    from bench.loadgen.tally import SeqTally

    head = Dialect(batch=True).msg_head("a.b")
    assert head is not None
    tally = SeqTally()
    scanner = MsgScanner(head, tally, None, batch=True)
    scanner.latencies = Latencies()

    def batch(*frames: dict[str, Any]) -> bytes:
        return server_frame(b"\n".join(orjson.dumps(f) for f in frames))

    mixed = batch(msg(4, 3, 40), {"op": "recovered", "topic": "a.b", "complete": True})
    data = (
        batch(msg(1, 0, 10), msg(2, 1, 20), msg(2, 1, 20))  # the last one a duplicate
        + server_frame(orjson.dumps(msg(3, 2, 30)))  # a single frame in between
        + mixed  # not all msgs: the ordinary reader gets it whole
    )
    done, others = scanner.scan(data, now=100)
    assert done == len(data)
    assert others == mixed
    assert (tally.count, tally.dups, tally.breaks, tally.last) == (3, 1, 0, 3)
    assert list(scanner.latencies.samples) == [90, 80, 70]
