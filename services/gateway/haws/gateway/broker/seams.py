"""What the gateway needs from the broker, as four small seams.

Each has a JetStream/NATS implementation (``jetstream_store``, ``nats_feed``,
``replay_history``, ``nats_presence``) and an in-memory one (``memory``) that
serves unit tests; ``tests/contracts/broker_contract.py`` holds both to the
same contract (memory in ``tests/unit``, real nats-server in
``tests/integration``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from haws.common import presence_protocol as pp
from haws.common.messages import StoredMessage
from haws.common.stream_reader import MAX_BATCH, HistoryPage
from haws.protocol.errors import Unavailable

LiveHandler = Callable[[StoredMessage], Awaitable[None]]
ChangeHandler = Callable[[pp.Change], Awaitable[None]]
TakeoverHandler = Callable[[pp.Takeover], None]


class NoReplica(Unavailable):
    """Nobody serves the request at all (NATS "no responders"): not a timeout."""


class Feed(Protocol):
    """A subscription the gateway holds until it stops it."""

    async def stop(self) -> None:
        """Deliver nothing more; idempotent, never raises (a closing broker drops it anyway)."""
        ...


class MessageStore(Protocol):
    async def publish(
        self, topic: str, data: Any, *, mid: str | None, sender: str | None, request_id: int
    ) -> tuple[int, bool]:
        """Store one message, answering only once it is stored: ``(seq, duplicate)``.

        Seqs grow across all topics. A ``mid`` seen inside the duplicate window
        stores nothing and returns the original seq with ``duplicate`` True.
        Raises ``Unavailable`` (not stored, retry with the same ``mid``) or
        ``Internal`` (data that cannot be stored), both carrying ``request_id``.
        """
        ...


class LiveFeed(Protocol):
    async def live(self, topic: str, on_message: LiveHandler) -> Feed:
        """Messages stored on ``topic`` after this returns, at most once, in seq
        order, each with ``prev`` the topic's previous seq (the chain a gap breaks)."""
        ...

    async def presence_changes(self, topic: str, on_change: ChangeHandler) -> Feed:
        """Join/leave changes of ``topic`` from now on; undecodable ones are dropped."""
        ...


class History(Protocol):
    async def read(
        self, topic: str, after: int, limit: int = MAX_BATCH, *, until: int | None = None
    ) -> HistoryPage:
        """Messages with ``after < seq (< until)`` in order, one page of at most
        ``limit``; ``more`` when a read after its last seq finds more; ``gap``
        the range retention dropped right after ``after``."""
        ...

    async def last_seq(self, topic: str) -> int:
        """The topic's last stored seq, 0 when none."""
        ...


class PresenceCalls(Protocol):
    """Requests to the presence service; each raises ``NoReplica`` when no replica
    runs and ``TimeoutError`` when none answers in time."""

    async def claim(self, claim: pp.Claim) -> pp.ClaimReply:
        """Own the session from this connection on: a fencing epoch above every earlier one.

        A ``fresh`` claim owns it only if no claim of the session landed yet;
        otherwise nothing changes and the reply is ``superseded`` (epoch 0)."""
        ...

    async def event(self, event: pp.Event) -> pp.EventReply:
        """Apply one connection event (sub, unsub, close); ``stale`` when its epoch is old."""
        ...

    async def batch(self, batch: pp.Batch) -> pp.BatchReply:
        """Claims, then events, each as ``claim``/``event`` would apply it, in one request;
        one reply per item in order (see ``pp.Batch`` for the order kept per session).
        ``NoReplica`` also when only replicas that predate batches run."""
        ...

    async def query(self, query: pp.Query) -> pp.QueryReply:
        """Who is on the topic now."""
        ...

    async def heartbeat(self, beat: pp.Heartbeat) -> pp.HeartbeatReply:
        """This node is alive; the reply lists sessions it lost meanwhile."""
        ...

    async def takeovers(self, node: str, on_takeover: TakeoverHandler) -> Feed:
        """Takeover commands for ``node``'s connections (a newer claim elsewhere)."""
        ...
