"""Claims to the presence service, many in one request when many wait (issue 14).

In a connect storm every hello claims its session. One request per claim
cost the gateway a NATS request each (an inbox token, a future, a timer, a
reply to parse) and the replica a message, a task and a reply each; on one
core the round trips also interleaved three processes per claim. Here a claim
goes out at once when a sender is free (alone: no added latency), and claims
that arrive while ``SENDERS`` batches are in flight wait and leave together,
up to ``BATCH`` in one ``pp.Batch``. A claim that no client waits for (a new
session's, whose ``welcome`` went out already) may also wait ``linger``
seconds for others: in a connect storm, claims then share requests even while
a sender is free, and every process on the way (gateway, NATS, replica) wakes
once per batch rather than once per claim.

A batch left unanswered is sent once more: a claim repeated by its own
connection keeps the epoch it got, and a ``fresh`` one is not superseded by
its own earlier attempt, so a retry changes nothing that landed. Replicas that
predate batches do not serve the batch subject (``NoReplica`` while the
heartbeat finds replicas): the claims then go one by one, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from haws.common import presence_protocol as pp
from haws.common.logs import EventLogger
from haws.common.tasks import stop_tasks
from haws.gateway.broker.seams import NoReplica, PresenceCalls

ATTEMPTS = 2
"""A batch (or a single claim) unanswered within the request timeout is sent once more."""
BATCH = 128
"""Claims in one request at most (``pp.BATCH_MAX`` is what a replica accepts)."""
SENDERS = 4
"""Batches of claims in flight at once; more claims wait for the next one to leave."""

T = TypeVar("T")
Reply = pp.ClaimReply | None
"""``None``: not claimed (no presence service, or it failed): the connection goes on unfenced."""

assert BATCH <= pp.BATCH_MAX


class ClaimBatches:
    def __init__(self, calls: PresenceCalls, log: EventLogger, *, linger: float = 0.0) -> None:
        self._calls = calls
        self._log = log
        self._linger = linger
        self._waiting: list[tuple[pp.Claim, asyncio.Future[Reply], bool]] = []
        """Claim, its reply, and whether somebody awaits it."""
        self._urgent = 0
        """Claims waiting that somebody awaits (a resume's ``welcome``): no lingering."""
        self._senders: set[asyncio.Task[None]] = set()
        self._lingering = False
        """A sender waits ``linger`` for more: a claim that may wait too joins it."""

    def send(self, claim: pp.Claim, *, linger: bool = False) -> asyncio.Future[Reply]:
        """The claim's reply, soon: alone if a sender is free, else in the next batch;
        with ``linger``, after up to ``linger`` seconds with the claims sent meanwhile."""
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting.append((claim, future, not linger))
        self._urgent += not linger
        if len(self._senders) < SENDERS and not (linger and self._lingering):
            task = asyncio.create_task(self._send_waiting(), name="presence-claims")
            self._senders.add(task)
            task.add_done_callback(self._senders.discard)
        return future

    @property
    def in_flight(self) -> bool:
        return bool(self._senders or self._waiting)

    async def _send_waiting(self) -> None:
        try:
            await self._send_all()
        finally:
            # In the step that saw nothing waiting: a claim arriving after it
            # finds a free sender slot and starts one.
            if (task := asyncio.current_task()) is not None:
                self._senders.discard(task)

    async def _send_all(self) -> None:
        if self._linger > 0 and not self._urgent:
            self._lingering = True
            try:
                await asyncio.sleep(self._linger)
            finally:
                self._lingering = False
        while self._waiting:
            taken = self._waiting[:BATCH]
            del self._waiting[:BATCH]
            self._urgent -= sum(urgent for _, _, urgent in taken)
            replies: list[Reply] = []
            try:
                replies = await self._replies([claim for claim, _, _ in taken])
            finally:
                # Cancelled (a stop): answered unclaimed, never left waiting.
                for i, (_, future, _) in enumerate(taken):
                    if not future.done():
                        future.set_result(replies[i] if replies else None)

    async def _replies(self, claims: list[pp.Claim]) -> list[Reply]:
        if len(claims) == 1:
            return [await self._one(claims[0])]
        unclaimed: list[Reply] = [None] * len(claims)
        try:
            reply = await self._retried(lambda: self._calls.batch(pp.Batch(claims=claims)), claims)
        except NoReplica:  # replicas that predate batches (or none at all)
            return list(await asyncio.gather(*(self._one(claim) for claim in claims)))
        except Exception as exc:  # no presence service: messaging goes on unfenced
            self._failed(claims, exc)
            return unclaimed
        if reply is None:
            return unclaimed
        if len(reply.claims) != len(claims):
            self._failed(claims, ValueError(f"{len(reply.claims)} replies"))
            return unclaimed
        return list(reply.claims)

    async def _one(self, claim: pp.Claim) -> Reply:
        try:
            return await self._retried(lambda: self._calls.claim(claim), [claim])
        except Exception as exc:  # no presence service: messaging goes on unfenced
            self._failed([claim], exc)
            return None

    async def _retried(self, ask: Callable[[], Awaitable[T]], claims: list[pp.Claim]) -> T | None:
        """``ask()``, once more if unanswered in time; None (logged) if twice."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await ask()
            except TimeoutError as exc:
                if attempt == ATTEMPTS:
                    self._failed(claims, exc)
        return None

    def _failed(self, claims: list[pp.Claim], exc: BaseException) -> None:
        session = claims[0].session if len(claims) == 1 else None
        self._log.warning(
            "presence.claim_failed", session=session, claims=len(claims), error=repr(exc)
        )

    async def stop(self, timeout: float) -> None:
        """Let batches in flight land for up to ``timeout``, then end them; every
        claim still waiting is answered ``None``."""
        if self._senders:
            await asyncio.wait(set(self._senders), timeout=timeout)
            await stop_tasks(list(self._senders))
        waiting, self._waiting = self._waiting, []
        self._urgent = 0
        for _, future, _ in waiting:
            if not future.done():
                future.set_result(None)
