"""How many keys the session bucket should hold, from what the soak's clients did.

By design (docs/protocol.md, ``ttl``) a session stays resumable for the session
TTL after its last activity: the protocol has no "closed for good", so a client
that starts a new session leaves its old one in ``HAWS_SESSIONS`` until the TTL
expires it. The bucket then holds, at any moment, the sessions of the clients
that are up plus every session given up less than one TTL ago:

    expected(t) = live(t) + given_up(t - ttl, t]

which levels off one TTL after the churn starts at ``live + new_sessions_per_second
* ttl``. The soak asserts that the bucket stays at that model (the slope of
``keys - expected`` is flat), not that the raw key count does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class SessionLedger:
    ttl: float
    closed: list[tuple[float, str]] = field(default_factory=list)
    """``(seconds, session)`` of every session whose client closed, in order."""

    def close(self, at: float, session: str | None) -> None:
        if session is not None:
            self.closed.append((at, session))

    def expected(self, at: float, live: Iterable[str | None]) -> int:
        """Keys the bucket should hold at ``at`` with ``live`` sessions up."""
        up = {s for s in live if s is not None}
        given_up = {s for t, s in self.closed if at - self.ttl < t <= at and s not in up}
        return len(up) + len(given_up)
