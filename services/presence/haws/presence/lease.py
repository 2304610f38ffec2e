"""Leader election by a lease in the presence KV bucket (key ``leader``).

The holder renews the key by compare-and-set every ``ttl / 3``. A follower
takes the key over, again by compare-and-set, once it has seen the same
revision for longer than ``ttl`` on its own monotonic clock, so clock skew
between machines does not matter; only clock rates do. The holder counts its
term as valid until ``ttl`` after it *sent* its last successful renewal: a
follower can only start counting after that write, so the two never overlap.

The value also carries ``emitted``, the last KV revision whose join/leave the
holder has published, so a successor knows what to re-send. A clean stop
writes the lease vacant (holder ``""``) and a follower takes it at once.

With leader shards there is one lease per shard (``leader.<k>``), and
``eligible`` says whether this replica is the shard's choice (``shards.py``).
Only the choice takes a vacant lease at once, or a quiet one after ``ttl``;
any other replica waits ``2 * ttl``, so a shard whose choice cannot take it
(cut off from KV) is still led, only later.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import msgpack

from haws.common import names
from haws.common.logs import EventLogger
from haws.presence.store import StoreConflict, StoreUnavailable, VersionedStore


@dataclass(frozen=True, slots=True)
class LeaseValue:
    holder: str
    emitted: int = 0

    def encode(self) -> bytes:
        return bytes(msgpack.packb(asdict(self), use_bin_type=True))

    @classmethod
    def decode(cls, raw: bytes) -> LeaseValue | None:
        try:
            return cls(**msgpack.unpackb(raw, raw=False))
        except (TypeError, ValueError, msgpack.UnpackException):
            return None


@dataclass(frozen=True, slots=True)
class LeaseView:
    """What one tick learnt."""

    leader: bool
    term: int
    """Grows each time this replica starts leading (a lapse then renewal counts too)."""
    holder: str | None
    emitted: int
    """The holder's ``emitted`` as last read (a new leader's predecessor's)."""


class LeaderLease:
    def __init__(
        self,
        store: VersionedStore,
        log: EventLogger,
        *,
        holder: str,
        ttl: float,
        key: str = names.KV_PRESENCE_LEADER,
        clock: Callable[[], float] = time.monotonic,
        eligible: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._log = log
        self.holder = holder
        self.ttl = ttl
        self._key = key
        self._clock = clock
        self._eligible = eligible
        self._leading = False
        self._revision = 0
        self._valid_until = 0.0
        self._term = 0
        self._seen_revision: int | None = None
        self._seen_at = 0.0
        self._seen_holder: str | None = None
        self._seen_emitted = 0

    @property
    def is_leader(self) -> bool:
        """True only while the term is valid: a lapsed holder must renew before acting."""
        return self._leading and self._clock() < self._valid_until

    def _view(self) -> LeaseView:
        holder = self.holder if self.is_leader else self._seen_holder
        return LeaseView(self.is_leader, self._term, holder, self._seen_emitted)

    async def tick(self, emitted: int) -> LeaseView:
        """Renew if leading, else watch the holder and take over when it went quiet."""
        now = self._clock()
        if self._leading:
            try:
                self._revision = await self._store.update(
                    self._key, LeaseValue(self.holder, emitted).encode(), self._revision
                )
            except StoreConflict:
                self._leading = False
                self._log.warning("presence.lease_lost", holder=self.holder)
            except StoreUnavailable as exc:
                if now >= self._valid_until:
                    self._leading = False
                    self._log.warning("presence.lease_lapsed", error=str(exc))
                return self._view()
            else:
                if now >= self._valid_until:
                    # Lapsed (paused?) but nobody took over: a new term that resumes
                    # from what this replica itself had published.
                    self._term += 1
                    self._seen_emitted = emitted
                self._valid_until = now + self.ttl
                return self._view()
        return await self._follow(now)

    async def _follow(self, now: float) -> LeaseView:
        try:
            eligible = self._eligible()
            patience = self.ttl if eligible else 2 * self.ttl
            current = await self._store.get(self._key)
            if current is None:
                if self._seen_revision != 0:
                    self._seen_revision, self._seen_at = 0, now
                    self._seen_holder, self._seen_emitted = None, 0
                if not eligible and now - self._seen_at < patience:
                    return self._view()
                revision = await self._store.create(self._key, LeaseValue(self.holder).encode())
                return self._lead(revision, now, emitted=0)
            value = LeaseValue.decode(current.value)
            if current.revision != self._seen_revision:
                self._seen_revision, self._seen_at = current.revision, now
                self._seen_holder = value.holder if value is not None else None
                self._seen_emitted = value.emitted if value is not None else 0
            # Ours from an earlier life; vacant (a clean stop, a handover) for the
            # shard's choice; or quiet too long.
            mine = value is not None and value.holder == self.holder
            vacant = value is None or value.holder == ""
            if mine or (vacant and eligible) or now - self._seen_at >= patience:
                emitted = self._seen_emitted
                revision = await self._store.update(
                    self._key, LeaseValue(self.holder, emitted).encode(), current.revision
                )
                return self._lead(revision, now, emitted)
        except StoreConflict:
            pass  # another replica got there first
        except StoreUnavailable as exc:
            self._log.warning("presence.lease_unreadable", error=str(exc))
        return self._view()

    def _lead(self, revision: int, now: float, emitted: int) -> LeaseView:
        self._leading = True
        self._revision = revision
        self._valid_until = now + self.ttl
        self._term += 1
        self._seen_emitted = emitted
        self._log.info("presence.lease_taken", holder=self.holder, term=self._term)
        return self._view()

    async def release(self, emitted: int) -> None:
        """Leave the lease vacant at once (a clean stop), so a follower need not wait a
        ttl; ``emitted`` tells it exactly where to go on publishing."""
        if not self._leading:
            return
        self._leading = False
        try:
            await self._store.update(self._key, LeaseValue("", emitted).encode(), self._revision)
        except (StoreConflict, StoreUnavailable) as exc:
            self._log.warning("presence.lease_release_failed", error=str(exc))
