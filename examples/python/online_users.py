"""An "online users" table kept from haws lifecycle events, right across node crashes.

    python examples/python/online_users.py nats://127.0.0.1:4222 [--durable NAME]

It reads ``HAWS_EVENTS`` (at least once, in order per session) and keeps, per
session, the newest epoch it has seen and whether that session is online. Two
rules make it right whatever arrives twice or late:

- an event whose ``id`` was already applied is dropped (re-delivery, a new
  presence leader's re-send);
- an event with a lower ``epoch`` than the session's newest is dropped: it is
  about a connection the session has already left (a ``disconnect takeover``
  of the old node arriving after the ``resume`` elsewhere, say).

When a gateway is SIGKILLed, its sessions that did not come back elsewhere get
``disconnect node_dead`` from the presence leader; those that resumed elsewhere
got ``resume`` with a higher epoch, so they stay online.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass

import nats

from haws.server import EventFeed, LifecycleEvent

SEEN_IDS = 100_000
"""Ids remembered for dedupe: more than a leader re-send window's worth of events."""


@dataclass
class SessionState:
    user: str | None
    epoch: int
    online: bool


class OnlineUsers:
    def __init__(self) -> None:
        self.sessions: dict[str, SessionState] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()

    def apply(self, event: LifecycleEvent) -> bool:
        """Apply one event; False when it was a duplicate or stale."""
        if event.id in self._seen:
            return False
        self._seen[event.id] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        if event.type not in ("connect", "resume", "disconnect"):
            return False  # join/leave: topics, not whether the user is online
        current = self.sessions.get(event.session)
        if current is not None and event.epoch < current.epoch:
            return False
        online = event.type != "disconnect"
        self.sessions[event.session] = SessionState(event.user, event.epoch, online)
        return True

    def users(self) -> set[str]:
        """Users with at least one online session."""
        return {s.user for s in self.sessions.values() if s.online and s.user is not None}

    def online_sessions(self) -> set[str]:
        return {session for session, s in self.sessions.items() if s.online}


async def main(url: str, durable: str | None) -> None:
    nc = await nats.connect(url)
    table = OnlineUsers()
    try:
        async for event in EventFeed(nc, durable=durable, start="all"):
            if table.apply(event):
                print(f"{event.type:<10} {event.user or '-':<16} online: {sorted(table.users())}")
    finally:
        await nc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nats_url")
    parser.add_argument("--durable", default=None, help="JetStream consumer name to resume from")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.nats_url, args.durable))
