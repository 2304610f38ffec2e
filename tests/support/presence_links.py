"""A gateway's ``PresenceLink`` in a test, and a storm of new sessions through it.

For the tests of the gateway's side of presence over a real nats-server: the
link started with test timings and yielded once its heartbeat found a replica,
then stopped; ``claim_storm`` claims sessions as new hellos do, each followed by
its ``sub`` events, and collects the epochs the claims return.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable

from haws.common import presence_protocol as pp
from haws.common.logs import get_logger
from haws.gateway.broker.seams import PresenceCalls
from haws.gateway.sessions.fence import Fence
from haws.gateway.sessions.presence_link import PresenceLink
from tests.support.waiting import eventually

NODE = "gw-1"


@contextlib.asynccontextmanager
async def started_link(
    calls: PresenceCalls, *, ready_timeout: float = 10.0
) -> AsyncIterator[PresenceLink]:
    link = PresenceLink(
        calls, get_logger("test"), node=NODE, fence=Fence(3.0), heartbeat_interval=0.2,
        linger=0.005,
    )  # fmt: skip
    await link.start(
        on_takeover=lambda command: None, connections=lambda: 0, sessions=list,
        fenced=lambda lost: None,
    )  # fmt: skip
    try:
        await eventually(lambda: link.available, timeout=ready_timeout, message="the heartbeat")
        yield link
    finally:
        async with asyncio.timeout(10):
            await link.stop(flush_timeout=2.0)


def claim_storm(link: PresenceLink, sessions: list[str], topics: Iterable[str]) -> dict[str, int]:
    """Claim each session as a new hello does (``claim_soon``), its ``sub`` of each
    topic held behind the claim; the dict fills with each session's epoch."""
    epochs: dict[str, int] = {}

    def keep(session: str) -> Callable[[int], None]:
        return lambda epoch: epochs.__setitem__(session, epoch)

    wanted = list(topics)
    for i, session in enumerate(sessions):
        claim = pp.Claim(session=session, node=NODE, conn=f"c{i}")
        link.claim_soon(claim, keep(session), lambda: None)
        for topic in wanted:
            link.event(pp.Event("sub", session, NODE, claim.conn, 0, topic))
    return epochs
