"""``PresenceCalls`` answered by one in-memory presence replica, for unit tests.

It keeps the promises the seam states: every claim's epoch is above every
earlier one, an event with an old epoch is ``stale``, a ``fresh`` claim of a
session claimed already is ``superseded`` and changes nothing, a newer claim of
a session sends ``Takeover`` to the node of the connection it replaces while
that one is online, members join and leave (published as changes through a ``MemoryBroker``
when given one; a closed connection leaves at once: a leave grace of 0). With
``absent`` set every call raises ``NoReplica``, as in a deployment without
presence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from haws.common import presence_protocol as pp
from haws.gateway.broker.memory import MemoryBroker
from haws.gateway.broker.seams import NoReplica, TakeoverHandler

LEASE = 10.0


@dataclass(frozen=True, slots=True)
class _Owner:
    node: str
    conn: str
    epoch: int
    user: str | None
    online: bool = True


class _Takeovers:
    def __init__(self, handlers: set[TakeoverHandler], handler: TakeoverHandler) -> None:
        self._handlers = handlers
        self._handler = handler
        handlers.add(handler)

    async def stop(self) -> None:
        self._handlers.discard(self._handler)


class MemoryPresence:
    def __init__(self, broker: MemoryBroker | None = None, *, absent: bool = False) -> None:
        self.absent = absent
        self._broker = broker
        self._epoch = 0
        self._owners: dict[str, _Owner] = {}
        self._members: dict[str, dict[str, str | None]] = {}
        self._takeovers: dict[str, set[TakeoverHandler]] = {}
        self._lost: dict[str, list[str]] = {}
        self.events: list[pp.Event] = []
        """Every event applied, in order."""
        self.batches = 0
        """``batch`` requests answered."""

    def _check(self) -> None:
        if self.absent:
            raise NoReplica("no presence replica")

    async def claim(self, claim: pp.Claim) -> pp.ClaimReply:
        self._check()
        previous = self._owners.get(claim.session)
        own = (
            previous is not None
            and previous.online
            and (previous.node, previous.conn) == (claim.node, claim.conn)
        )
        if own and previous is not None:  # a retry of a claim that landed: same epoch
            for topic in claim.topics:
                self._join(topic, claim.session, claim.user)
            return pp.ClaimReply(previous.epoch, previous.node)
        if claim.fresh and previous is not None:
            return pp.ClaimReply(epoch=0, superseded=True)  # a newer hello claimed it first
        self._epoch += 1
        self._owners[claim.session] = _Owner(claim.node, claim.conn, self._epoch, claim.user)
        for topic in claim.topics:
            self._join(topic, claim.session, claim.user)
        if previous is not None and previous.online and previous.conn != claim.conn:
            command = pp.Takeover(session=claim.session, conn=previous.conn, epoch=self._epoch)
            for handler in list(self._takeovers.get(previous.node, ())):
                handler(command)
        return pp.ClaimReply(self._epoch, previous.node if previous is not None else None)

    async def event(self, event: pp.Event) -> pp.EventReply:
        self._check()
        owner = self._owners.get(event.session)
        if owner is None or event.epoch < owner.epoch:
            return pp.EventReply(ok=False, stale=True)
        self.events.append(event)
        if event.kind == "sub" and event.topic is not None:
            self._join(event.topic, event.session, owner.user)
        elif event.kind == "unsub" and event.topic is not None:
            self._leave(event.topic, event.session)
        elif event.kind == "close":
            for topic in [t for t, members in self._members.items() if event.session in members]:
                self._leave(topic, event.session)
            self._owners[event.session] = replace(owner, online=False)
        return pp.EventReply(ok=True)

    async def batch(self, batch: pp.Batch) -> pp.BatchReply:
        """In the order given (this replica never fails an item, so none is skipped)."""
        self._check()
        self.batches += 1
        claims = [await self.claim(claim) for claim in batch.claims]
        return pp.BatchReply(claims, [await self.event(event) for event in batch.events])

    async def query(self, query: pp.Query) -> pp.QueryReply:
        self._check()
        members = [
            pp.Member(session, self._owners[session].node, user)
            for session, user in self._members.get(query.topic, {}).items()
            if self._owners[session].online
        ]
        return pp.QueryReply(members=[asdict(m) for m in members])

    async def heartbeat(self, beat: pp.Heartbeat) -> pp.HeartbeatReply:
        self._check()
        return pp.HeartbeatReply(LEASE, self._lost.pop(beat.node, []))

    async def takeovers(self, node: str, on_takeover: TakeoverHandler) -> _Takeovers:
        return _Takeovers(self._takeovers.setdefault(node, set()), on_takeover)

    def lose(self, node: str, session: str) -> None:
        """The next heartbeat of ``node`` learns it lost ``session`` (it was paused)."""
        self._lost.setdefault(node, []).append(session)

    def _join(self, topic: str, session: str, user: str | None) -> None:
        members = self._members.setdefault(topic, {})
        if session not in members:
            members[session] = user
            self._publish(pp.Change("join", topic, session, user))

    def _leave(self, topic: str, session: str) -> None:
        members = self._members.get(topic, {})
        if session in members:
            user = members.pop(session)
            self._publish(pp.Change("leave", topic, session, user))

    def _publish(self, change: pp.Change) -> None:
        if self._broker is not None:
            self._broker.change(change)
