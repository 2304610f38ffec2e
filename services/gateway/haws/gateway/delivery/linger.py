"""A close that reaches a peer still sending: close frame, read and discard, then close.

Closing a TCP socket whose receive buffer still holds unread data makes the kernel
send a reset instead of a FIN, and a reset makes the peer drop what it had not
read yet, our close frame included: the client sees 1006 instead of 1009 or 4002,
reconnects, and may send the same thing again. So once the close frame is
written the node stops writing, keeps reading (and discarding) until the peer
closes its side or ``seconds`` pass, and only then closes the socket.

aiohttp closes the transport itself from several paths (its own 1009, our
``close``, a lost heartbeat); ``LingeringWebSocketResponse`` routes all of them
through ``linger_close``.

This is the gateway's one private aiohttp hook: aiohttp has no public way to keep
reading after its own close frame, so the subclass overrides the private
``WebSocketResponse._close_transport`` and reads ``_req``. It is pinned
(``aiohttp<3.15`` in pyproject.toml) and ``tests/unit/gateway/delivery/test_linger.py``
checks the installed aiohttp still has both, so an upgrade that changes them fails
a test instead of bringing back 1006. What it buys is measured in
``tests/integration/test_close_codes_reach_peer.py`` (docs/performance.md "Library hooks").
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web


class _Discard(asyncio.Protocol):
    """Swallows what the peer still sends; tells the original protocol of the end."""

    def __init__(self, original: asyncio.BaseProtocol, done: asyncio.Future[None]) -> None:
        self._original = original
        self._done = done

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    def data_received(self, data: bytes) -> None:
        """Discarded: the connection is closing and nothing it says counts any more."""

    def eof_received(self) -> bool:
        self._finish()
        return False  # the transport closes itself: the peer is done, so are we

    def pause_writing(self) -> None:
        self._original.pause_writing()

    def resume_writing(self) -> None:
        self._original.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()
        # aiohttp's protocol still owns the request's life: it must hear the end.
        self._original.connection_lost(exc)


async def linger_close(transport: asyncio.Transport, seconds: float) -> None:
    """Read and discard until the peer closes or ``seconds`` pass, then close.

    Call it once the close frame is written: writing is over, so what is
    buffered is flushed by the close, and no reset overtakes it.
    """
    if transport.is_closing():
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    transport.set_protocol(_Discard(transport.get_protocol(), done))
    with contextlib.suppress(Exception):
        transport.resume_reading()  # aiohttp pauses reading while its queue is full
    try:
        await asyncio.wait_for(asyncio.shield(done), seconds)
    except TimeoutError:
        pass
    finally:
        transport.close()


class LingeringWebSocketResponse(web.WebSocketResponse):
    """A ``WebSocketResponse`` whose every transport close lingers (``linger_close``).

    The handler awaits ``lingered()`` before it returns, so the request ends only
    once the socket is closed (aiohttp closes it outright when the handler ends).
    """

    __slots__ = ("_linger", "_lingering")
    """In slots, not the instance dict: two more keys there made it grow (about
    110 B per connection, tracemalloc; docs/performance.md)."""

    def __init__(self, *, linger: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._linger = linger
        self._lingering: asyncio.Task[None] | None = None

    def _close_transport(self) -> None:
        request = self._req
        transport = request.transport if request is not None else None
        if self._linger <= 0 or transport is None:
            super()._close_transport()
            return
        if self._lingering is None:
            # (uvloop's transports are no asyncio.Transport subclass, but behave as one.)
            self._lingering = asyncio.ensure_future(linger_close(transport, self._linger))

    async def lingered(self) -> None:
        """Until a lingering close has closed the socket (at most ``linger`` seconds)."""
        if self._lingering is not None:
            await asyncio.shield(self._lingering)
