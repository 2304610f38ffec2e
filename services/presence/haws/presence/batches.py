"""The order a ``Batch``'s items are applied in: sessions at once, one session's in turn.

Items of different sessions touch different records, so they run concurrently
(a batch costs about its slowest item, not the sum). Items of one session run
in the order sent, because the gateway sent them in the order they happened;
after one of them fails (not applied, and not a final answer such as stale or
superseded) the session's later items are not tried and get that failed reply,
so a sender that retries every failed item in order keeps the session's order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from haws.common import presence_protocol as pp

Item = TypeVar("Item", pp.Claim, pp.Event)
Reply = TypeVar("Reply", pp.ClaimReply, pp.EventReply)


def claim_failed(reply: pp.ClaimReply) -> bool:
    return reply.epoch == 0 and not reply.superseded


def event_failed(reply: pp.EventReply) -> bool:
    return not reply.ok and not reply.stale


async def in_session_order(
    items: list[Item],
    apply: Callable[[Item], Awaitable[Reply]],
    failed: Callable[[Reply], bool],
) -> list[Reply]:
    """``apply`` of every item (see above for which are skipped); replies in the items' order."""
    replies: list[Reply | None] = [None] * len(items)
    by_session: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_session.setdefault(item.session, []).append(i)

    async def in_turn(positions: list[int]) -> None:
        for n, i in enumerate(positions):
            reply = replies[i] = await apply(items[i])
            if failed(reply):
                for j in positions[n + 1 :]:
                    replies[j] = reply
                return

    await asyncio.gather(*(in_turn(positions) for positions in by_session.values()))
    return [reply for reply in replies if reply is not None]
