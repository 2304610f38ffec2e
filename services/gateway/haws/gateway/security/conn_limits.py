"""How many connections this node holds: in all, per client address, per user.

Counted from the accepted upgrade (before ``hello``), so half-open handshakes
count too, until the connection's ``finally`` releases its lease. The node and
address limits refuse before the upgrade (HTTP 503 / 429); the user is only
known after ``hello``, so that limit closes the new connection with 1013. A
limit of 0 means unlimited. Every count is per node: a cluster of N nodes lets
a user hold up to N times the per-user limit.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol


class LimitExceeded(Exception):
    """A connection limit is reached; ``kind`` is ``node``, ``address`` or ``user``."""

    def __init__(self, kind: str, limit: int) -> None:
        super().__init__(f"too many connections ({kind} limit {limit})")
        self.kind = kind
        self.limit = limit


class LimitSettings(Protocol):
    """The settings the limits are read from (the gateway's, or a test's)."""

    @property
    def max_connections(self) -> int: ...
    @property
    def max_connections_per_ip(self) -> int: ...
    @property
    def max_connections_per_user(self) -> int: ...
    @property
    def compression_max_connections(self) -> int: ...


class ConnectionLimits:
    @classmethod
    def from_settings(cls, settings: LimitSettings) -> ConnectionLimits:
        return cls(
            per_node=settings.max_connections,
            per_address=settings.max_connections_per_ip,
            per_user=settings.max_connections_per_user,
            compressed=settings.compression_max_connections,
        )

    def __init__(
        self, *, per_node: int, per_address: int, per_user: int, compressed: int = 0
    ) -> None:
        self.per_node = per_node
        self.per_address = per_address
        self.per_user = per_user
        self.max_compressed = compressed
        self.total = 0
        self.compressed = 0
        self._by_address: Counter[str] = Counter()
        self._by_user: Counter[str] = Counter()

    def open(self, address: str) -> Lease:
        """A lease for one connection from ``address``; ``LimitExceeded`` when full."""
        if self.per_node and self.total >= self.per_node:
            raise LimitExceeded("node", self.per_node)
        if self.per_address and self._by_address[address] >= self.per_address:
            raise LimitExceeded("address", self.per_address)
        self.total += 1
        self._by_address[address] += 1
        return Lease(self, address)

    def connections_of(self, address: str) -> int:
        return self._by_address.get(address, 0)

    def _drop(self, counter: Counter[str], key: str) -> None:
        counter[key] -= 1
        if counter[key] <= 0:
            del counter[key]  # bounded by the connections held, not by every address seen


class Lease:
    """One connection's share of the counts; ``release`` is idempotent."""

    __slots__ = ("_compressed", "_limits", "_released", "address", "user")

    def __init__(self, limits: ConnectionLimits, address: str) -> None:
        self._limits = limits
        self.address = address
        self.user: str | None = None
        self._compressed = False
        self._released = False

    def claim_user(self, user: str | None) -> None:
        limits = self._limits
        if user is None or self.user is not None:
            return
        if limits.per_user and limits._by_user[user] >= limits.per_user:
            raise LimitExceeded("user", limits.per_user)
        limits._by_user[user] += 1
        self.user = user

    def reserve_compression(self) -> bool:
        """Whether this connection may negotiate permessage-deflate (bounded per node)."""
        limits = self._limits
        if self._compressed or limits.compressed >= limits.max_compressed:
            return self._compressed
        limits.compressed += 1
        self._compressed = True
        return True

    def release_compression(self) -> None:
        if self._compressed:
            self._compressed = False
            self._limits.compressed -= 1

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        limits = self._limits
        self.release_compression()
        limits.total -= 1
        limits._drop(limits._by_address, self.address)
        if self.user is not None:
            limits._drop(limits._by_user, self.user)
