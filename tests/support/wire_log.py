"""Every ``msg`` frame as it arrived at the wire, per client and topic, and its verifier.

Frames are recorded before any SDK logic (through the SDK's ``Client(on_frame=...)``
tap, or by a raw client), so what the SDK would quietly drop as a duplicate is
counted here. ``verify`` judges one client's frames of one topic against the seqs
the publisher saw acked (guarantees 1 to 3 of the protocol, counted at the wire):

* **lost**: acked seqs that never arrived;
* **duplicates**: frames whose seq had already arrived;
* **out of order**: frames arriving (for the first time) after a higher seq;
* **chain breaks**: first arrivals whose ``prev`` is not the seq of the one before
  (a client's own proof that it missed nothing, across reconnects too: a resume
  starts after the cursor, so its first ``prev`` is the last seq received);
* **unexpected**: seqs nobody saw acked (another publisher, or an unacked store);
* **gaps announced**: ``recovered`` frames with ``complete: false`` (not silent, but
  with nothing dropped by retention every one of them hides a lost message).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

EXAMPLES = 10
"""How many offending seqs a verdict names, as evidence."""

Tap = Callable[[dict[str, Any], int], None]


@dataclass(frozen=True, slots=True)
class WireMsg:
    """One ``msg`` frame as it arrived."""

    seq: int
    prev: int
    connection: int
    """Which of the client's connections carried it (1 = the first)."""
    at: float
    """Arrival time (the log's clock: ``time.monotonic`` unless given another)."""
    mid: str | None = None

    @classmethod
    def of(cls, frame: Mapping[str, Any], connection: int = 1, at: float = 0.0) -> WireMsg:
        """The record of one ``msg`` frame."""
        mid = frame.get("mid")
        return cls(int(frame["seq"]), int(frame["prev"]), connection, at, mid)


COUNTS = (
    "received",
    "lost",
    "duplicates",
    "out_of_order",
    "chain_breaks",
    "unexpected",
    "gaps_announced",
)
"""What a ``Verdict`` counts and ``Totals`` adds up, in report order."""


@dataclass(frozen=True, slots=True)
class Verdict:
    received: int
    lost: int
    duplicates: int
    out_of_order: int
    chain_breaks: int
    unexpected: int
    gaps_announced: int = 0
    lost_seqs: tuple[int, ...] = ()
    """The first few lost seqs."""
    breaks: tuple[tuple[int, int, int], ...] = ()
    """The first few breaks as (expected prev, seq, prev)."""

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicates or self.out_of_order or self.chain_breaks)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}


def verify(
    msgs: Sequence[WireMsg],
    acked: Iterable[int],
    *,
    first_prev: int | None = None,
    gaps_announced: int = 0,
) -> Verdict:
    """Judge ``msgs`` (one client, one topic, in arrival order) against ``acked``.

    ``first_prev``: the ``prev`` the first message must carry (0 for a topic's first
    message ever, or the subscription's start); ``None`` leaves the first unchecked.
    """
    expected = set(acked)
    seen: set[int] = set()
    duplicates = out_of_order = 0
    highest = 0
    breaks: list[tuple[int, int, int]] = []
    chain = first_prev
    for msg in msgs:
        if msg.seq in seen:
            duplicates += 1
            continue
        seen.add(msg.seq)
        if msg.seq < highest:
            out_of_order += 1
        highest = max(highest, msg.seq)
        if chain is not None and msg.prev != chain:
            breaks.append((chain, msg.seq, msg.prev))
        chain = msg.seq
    lost = sorted(expected - seen)
    return Verdict(
        received=len(msgs),
        lost=len(lost),
        duplicates=duplicates,
        out_of_order=out_of_order,
        chain_breaks=len(breaks),
        unexpected=len(seen - expected),
        gaps_announced=gaps_announced,
        lost_seqs=tuple(lost[:EXAMPLES]),
        breaks=tuple(breaks[:EXAMPLES]),
    )


@dataclass
class Totals:
    """Verdicts of many clients added up, with the offenders named."""

    clients: int = 0
    received: int = 0
    lost: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    chain_breaks: int = 0
    unexpected: int = 0
    gaps_announced: int = 0
    failed: dict[str, Verdict] = field(default_factory=dict)

    def add(self, client: str, verdict: Verdict) -> None:
        self.clients += 1
        for name, value in verdict.counts().items():
            setattr(self, name, getattr(self, name) + value)
        if not verdict.ok:
            self.failed[client] = verdict

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {"clients": self.clients, **{name: getattr(self, name) for name in COUNTS}}

    def evidence(self, limit: int = 5) -> dict[str, Any]:
        """The first few failing clients' verdicts, for a failure message or a report."""
        return {name: asdict(v) for name, v in list(self.failed.items())[:limit]}


class WireLog:
    """``msg`` frames and announced gaps per (client, topic), and each connection's
    ``welcome`` (node, session, time) per client."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._msgs: dict[tuple[str, str], list[WireMsg]] = defaultdict(list)
        self._seqs: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._welcomes: dict[str, dict[int, tuple[str, float]]] = defaultdict(dict)
        self._sessions: dict[str, str] = {}
        self._gaps: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)

    def record(self, client: str, frame: Mapping[str, Any], connection: int = 1) -> None:
        """Keep ``frame`` if it is a ``msg``, a ``recovered`` announcing a gap, or a
        ``welcome`` (which node a connection is on); ignore the rest."""
        op = frame.get("op")
        if op == "welcome":
            self._welcomes[client][connection] = (str(frame.get("node", "")), self._clock())
            self._sessions[client] = str(frame.get("session", ""))
        elif op == "recovered" and frame.get("complete") is False:
            gap = {**frame, "connection": connection, "at": self._clock()}
            self._gaps[(client, str(frame["topic"]))].append(gap)
        elif op == "msg":
            key = (client, str(frame["topic"]))
            msg = WireMsg.of(frame, connection, self._clock())
            self._msgs[key].append(msg)
            self._seqs[key].add(msg.seq)

    def tap(self, client: str) -> Tap:
        """A callback for ``Client(on_frame=...)`` that records under ``client``."""

        def on_frame(frame: dict[str, Any], connection: int) -> None:
            self.record(client, frame, connection)

        return on_frame

    def clients(self) -> list[str]:
        return sorted({client for client, _ in self._msgs} | set(self._welcomes))

    def nodes(self, client: str) -> dict[int, str]:
        """Connection number -> the node its ``welcome`` named."""
        return {n: node for n, (node, _) in self._welcomes.get(client, {}).items()}

    def welcomed_at(self, client: str, connection: int) -> float | None:
        """When connection number ``connection`` of ``client`` was welcomed."""
        welcome = self._welcomes.get(client, {}).get(connection)
        return welcome[1] if welcome is not None else None

    def msgs(
        self, client: str, topic: str, *, connections: Collection[int] | None = None
    ) -> list[WireMsg]:
        """``client``'s frames of ``topic`` in arrival order (of ``connections`` only, if given)."""
        msgs = self._msgs.get((client, topic), [])
        if connections is None:
            return list(msgs)
        return [m for m in msgs if m.connection in connections]

    def gaps(self, client: str, topic: str) -> list[dict[str, Any]]:
        """The ``recovered complete: false`` frames ``client`` got on ``topic``."""
        return list(self._gaps.get((client, topic), []))

    def has_all(self, client: str, topic: str, seqs: set[int]) -> bool:
        """Whether every seq in ``seqs`` has arrived (cheap enough to poll)."""
        return seqs <= self._seqs.get((client, topic), set())

    def arrival(self, client: str, topic: str, seq: int) -> float | None:
        """When ``seq`` first arrived at ``client``, if it did."""
        for msg in self._msgs.get((client, topic), []):
            if msg.seq == seq:
                return msg.at
        return None

    def verify(
        self,
        client: str,
        topic: str,
        acked: Iterable[int],
        *,
        first_prev: int | None = None,
        connections: Collection[int] | None = None,
    ) -> Verdict:
        return verify(
            self.msgs(client, topic, connections=connections),
            acked,
            first_prev=first_prev,
            gaps_announced=len(self.gaps(client, topic)),
        )

    def verify_all(
        self,
        clients: Iterable[str],
        topic: str,
        acked: Iterable[int],
        *,
        first_prev: int | None = None,
    ) -> Totals:
        acked = set(acked)
        totals = Totals()
        for client in clients:
            totals.add(client, self.verify(client, topic, acked, first_prev=first_prev))
        return totals

    def dump(self, path: Path, clients: Iterable[str], topic: str) -> Path:
        """Write what ``clients`` got on ``topic`` as JSON: evidence for a failure report."""
        evidence = {
            client: {
                "session": self._sessions.get(client),
                "connections": {
                    n: {"node": node, "at": at}
                    for n, (node, at) in self._welcomes.get(client, {}).items()
                },
                "gaps_announced": self.gaps(client, topic),
                "msgs": [
                    [m.seq, m.prev, m.connection, round(m.at, 4)] for m in self.msgs(client, topic)
                ],
            }
            for client in clients
        }
        path.write_text(
            json.dumps(
                {"topic": topic, "msg_fields": "seq, prev, connection, at", "clients": evidence},
                indent=1,
            )
        )
        return path
