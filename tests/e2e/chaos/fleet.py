"""Many SDK clients on one topic, each recorded at the wire and drained by the application.

Every client has a home gateway (its first seed) and the other gateways after it,
in alternating order, so when its home dies the fleet spreads over the survivors.
Discovery is off: the seeds name every node, and a test decides who goes where.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haws.client import Client
from haws.cluster import Gateway
from tests.support.waiting import eventually
from tests.support.wire_log import Totals, WireLog

CONNECT_BATCH = 50
"""Clients connecting at once: a fleet's start is no test of the handshake path."""


@dataclass
class Member:
    name: str
    client: Client
    home: str
    delivered: list[int] = field(default_factory=list)
    """Seqs the application got from ``messages()``, in order (after SDK dedupe)."""
    drain: asyncio.Task[None] | None = None

    @property
    def connections(self) -> int:
        return self.client.stats.connects


def seeds_for(index: int, gateways: Sequence[Gateway]) -> list[str]:
    """Home first (round-robin by index), the others after it, alternating their order."""
    home = gateways[index % len(gateways)]
    others = [g for g in gateways if g is not home]
    if (index // len(gateways)) % 2:
        others.reverse()
    return [home.ws_url, *(g.ws_url for g in others)]


class Fleet:
    def __init__(self, log: WireLog, evidence: Path, prefix: str = "c") -> None:
        self.log = log
        self.evidence = evidence
        """Where the wire of failing clients is written."""
        self.prefix = prefix
        self.members: list[Member] = []

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.members]

    async def open(self, count: int, gateways: Sequence[Gateway], **settings: Any) -> None:
        """Connect ``count`` clients, homes round-robin over ``gateways``."""
        by_url = {g.ws_url: g.name for g in gateways}
        start = len(self.members)
        for index in range(start, start + count):
            seeds = seeds_for(index, gateways)
            name = f"{self.prefix}{index}"
            client = Client(seeds, discover=False, on_frame=self.log.tap(name), **settings)
            self.members.append(Member(name, client, by_url[seeds[0]]))
        fresh = self.members[start:]
        for batch in range(0, len(fresh), CONNECT_BATCH):
            await asyncio.gather(
                *(m.client.connect() for m in fresh[batch : batch + CONNECT_BATCH])
            )
        for member in fresh:
            member.drain = asyncio.create_task(self._drain(member), name=f"drain {member.name}")

    @staticmethod
    async def _drain(member: Member) -> None:
        async for message in member.client.messages():
            member.delivered.append(message.seq)

    async def subscribe(self, topic: str) -> None:
        members = self.members
        for batch in range(0, len(members), CONNECT_BATCH):
            chunk = members[batch : batch + CONNECT_BATCH]
            await asyncio.gather(*(m.client.subscribe(topic) for m in chunk))

    def on(self, node: str) -> list[Member]:
        """Members connected to ``node`` right now."""
        return [m for m in self.members if m.client.node == node]

    async def wait_received(self, topic: str, seqs: set[int], timeout: float) -> None:
        """Until every member has every seq at the wire and in its application."""
        count = len(seqs)

        def complete() -> bool:
            return all(
                len(m.delivered) >= count and self.log.has_all(m.name, topic, seqs)
                for m in self.members
            )

        try:
            await eventually(complete, timeout=timeout, interval=0.1, message="fleet complete")
        except AssertionError:
            late = [m.name for m in self.members if not self.log.has_all(m.name, topic, seqs)]
            verdicts = {name: self.log.verify(name, topic, seqs) for name in late[:10]}
            dump = self.dump(late, topic)
            raise AssertionError(
                f"{len(late)} of {len(self.members)} clients still miss messages after "
                f"{timeout} s: "
                + "; ".join(
                    f"{n}: lost {v.lost_seqs}, gaps announced {self.log.gaps(n, topic)}"
                    for n, v in verdicts.items()
                )
                + f"; their wire: {dump}"
            ) from None

    def dump(self, names: Sequence[str], topic: str, limit: int = 20) -> Path:
        """The wire of (the first ``limit`` of) ``names`` as JSON evidence."""
        return self.log.dump(self.evidence / f"wire-{self.prefix}.json", names[:limit], topic)

    def verify(self, topic: str, acked: Sequence[int], *, first_prev: int = 0) -> Totals:
        """Wire-level verdicts of every member."""
        return self.log.verify_all(self.names, topic, acked, first_prev=first_prev)

    def application_faults(self, acked: Sequence[int]) -> dict[str, str]:
        """Members whose application did not get exactly ``acked``, in order, or saw gaps."""
        want = sorted(acked)
        faults: dict[str, str] = {}
        for m in self.members:
            stats = m.client.stats
            if m.delivered != want:
                extra = len(m.delivered) - len(set(m.delivered))
                faults[m.name] = (
                    f"delivered {len(m.delivered)} ({extra} repeated), want {len(want)}; "
                    f"missing {sorted(set(want) - set(m.delivered))[:5]}"
                )
            elif stats.gaps:
                faults[m.name] = f"{stats.gaps} gaps reported"
        return faults

    async def close(self) -> None:
        for batch in range(0, len(self.members), CONNECT_BATCH):
            chunk = self.members[batch : batch + CONNECT_BATCH]
            await asyncio.gather(*(m.client.close() for m in chunk), return_exceptions=True)
        for member in self.members:
            if member.drain is not None:
                member.drain.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await member.drain
