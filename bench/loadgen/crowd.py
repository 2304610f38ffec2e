"""Many clients at once: open (and subscribe) with bounded concurrency, then close.

Handshakes are limited to a few dozen in flight, as a fleet of real clients
with jittered reconnects would be, so a figure measures the server and not
its listen backlog overflowing (aiohttp listens with a backlog of 128).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bench.loadgen.peer import Peer

P = TypeVar("P", bound=Peer)


@dataclass(frozen=True, slots=True)
class Opened:
    seconds: float
    failed: int
    first_error: str | None


async def open_all(
    peers: Sequence[P],
    urls: Sequence[str],
    *,
    topic: str | None = None,
    concurrency: int = 64,
    timeout: float = 30.0,
) -> Opened:
    """Connect every peer (round-robin over ``urls``), subscribing to ``topic`` if given."""
    slots = asyncio.Semaphore(concurrency)
    failed = 0
    first_error: str | None = None

    async def one(i: int, peer: P) -> None:
        nonlocal failed, first_error
        async with slots:
            try:
                await peer.connect(urls[i % len(urls)], timeout=timeout)
                if topic is not None:
                    await peer.subscribe(topic)
            except Exception as exc:  # counted and reported, not fatal
                failed += 1
                if first_error is None:
                    first_error = f"{type(exc).__name__}: {exc}"

    started = time.monotonic()
    await asyncio.gather(*(one(i, peer) for i, peer in enumerate(peers)))
    return Opened(time.monotonic() - started, failed, first_error)


async def close_all(peers: Iterable[Peer], timeout: float = 5.0) -> None:
    """Close every client and wait (bounded) until their sockets are gone."""
    waiting = []
    for peer in peers:
        conn = peer.conn
        if conn is not None:
            conn.close()
            waiting.append(conn.closed)
    if waiting:
        await asyncio.wait(waiting, timeout=timeout)
    for peer in peers:
        if peer.conn is not None and not peer.conn.closed.done():
            peer.conn.abort()
