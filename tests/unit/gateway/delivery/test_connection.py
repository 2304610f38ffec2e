"""A connection's writes: one per flush pass, in order, the close behind them, 4008
on overflow; only a waiting socket gets a task."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from haws.gateway.delivery.connection import Connection
from haws.gateway.security.grants import NOBODY
from haws.protocol.codec import JSON
from tests.support.fake_socket import FakeTransport, FakeWs, parse_frames, socketless_connection


def make(
    *, batch: bool = False, frames: int = 100, grace: float = 5.0
) -> tuple[Connection, FakeTransport, FakeWs]:
    # test_connection's connections have no principal: NOBODY, as before.
    return socketless_connection(batch=batch, frames=frames, grace=grace, principal=NOBODY)


def messages(writes: list[bytes]) -> list[Any]:
    return [json.loads(p) for w in writes for _, p in parse_frames(w)]


async def turn() -> None:
    """Let the event loop run the flush pass scheduled so far."""
    await asyncio.sleep(0)


async def test_frames_of_one_iteration_go_out_in_one_write_in_order() -> None:
    conn, transport, _ = make()
    for n in range(3):
        conn.send_obj({"n": n})
    assert transport.writes == []  # nothing before the pass
    await turn()
    assert len(transport.writes) == 1
    assert messages(transport.writes) == [{"n": 0}, {"n": 1}, {"n": 2}]
    conn.send_obj({"n": 3})
    await turn()
    assert len(transport.writes) == 2
    await conn.stop()


async def test_batch_connection_gets_one_batch_frame() -> None:
    conn, transport, _ = make(batch=True)
    for n in range(3):
        conn.send_obj({"n": n})
    await turn()
    [(_, payload)] = parse_frames(transport.writes[0])
    assert JSON.split(payload) == [{"n": 0}, {"n": 1}, {"n": 2}]
    await conn.stop()


async def test_a_paused_socket_holds_frames_until_it_drains() -> None:
    conn, transport, _ = make()
    transport.protocol.pause()
    conn.send_obj({"n": 0})
    await turn()
    assert messages(transport.writes) == [{"n": 0}]  # written into the transport's buffer
    conn.send_obj({"n": 1})
    conn.send_obj({"n": 2})
    for _ in range(5):
        await turn()
    assert len(transport.writes) == 1  # the socket is above its mark: nothing more
    transport.protocol.resume()
    for _ in range(5):
        await turn()
    assert messages(transport.writes) == [{"n": 0}, {"n": 1}, {"n": 2}]
    conn.send_obj({"n": 3})
    await turn()
    assert messages(transport.writes)[-1] == {"n": 3}  # back on the flush pass
    await conn.stop()


async def test_close_goes_out_after_everything_queued_before_it() -> None:
    conn, transport, ws = make()
    conn.send_obj({"n": 0})
    conn.send_obj({"n": 1})
    conn.close(4000, "bye")
    await asyncio.wait_for(conn.stop(), 5)
    assert transport.writes[-1] == b"<close>"
    assert messages(transport.writes[:-1]) == [{"n": 0}, {"n": 1}]
    assert ws.close_codes == [4000]
    assert conn.sent_close == 4000


async def test_overflow_writes_4008_behind_what_is_buffered_and_cuts_after_grace() -> None:
    conn, transport, _ = make(frames=2, grace=0.05)
    transport.protocol.pause()
    conn.send_obj({"n": 0})
    await turn()
    for n in range(1, 4):  # the socket does not drain: the queue overflows
        conn.send_obj({"n": n})
    for _ in range(5):
        await turn()
    assert conn.sent_close == 4008
    close_frame = transport.writes[-1]
    assert close_frame[0] == 0x88
    assert int.from_bytes(close_frame[2:4], "big") == 4008
    assert transport.closed
    await asyncio.wait_for(conn.stop(), 5)
    assert transport.aborted


async def test_wait_closed_returns_once_stopped() -> None:
    conn, _, _ = make()
    waiter = asyncio.ensure_future(conn.wait_closed())
    await turn()
    assert not waiter.done()
    await conn.stop()
    await asyncio.wait_for(waiter, 1)
    await asyncio.wait_for(conn.wait_closed(), 1)


async def test_nothing_is_written_after_stop() -> None:
    conn, transport, _ = make()
    await conn.stop()
    conn.send_obj({"n": 0})
    await turn()
    assert transport.writes == []
