"""Leader shards: the shard of a session or topic, and which live replica should lead it.

The once-only work (join/leave, lifecycle events, the dead-node pass, expiry,
marker purges) is split into ``shards`` fixed shards by session hash, a
counts-only topic's counts by the topic's. Each shard has its own lease, so
more replicas share the leader's work instead of one leader doing all of it
(issue 14). Every replica still mirrors every record: queries stay local.

Which replica should hold shard ``k``: the ``k mod n``-th of the ``n`` live
replicas in name order. Every replica computes the same answer from the same
roster, the shards spread evenly, and a roster change moves only leases (a
handover re-sends what may not have gone out, as a leader change always did).
The roster is the replicas heard on ``haws.presence.replica`` within the
lease ttl, this one always included.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from collections.abc import Callable

import msgpack
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from haws.common import names
from haws.common.logs import EventLogger


def shard_of(key: str, shards: int) -> int:
    """The shard of a session id (or, for a topic's counts, a topic name)."""
    return zlib.crc32(key.encode()) % shards if shards > 1 else 0


class ReplicaRoster:
    """The presence replicas heard lately, this one included, on a monotonic clock."""

    def __init__(
        self, me: str, *, timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.me = me
        self._timeout = timeout
        self._clock = clock
        self._heard: dict[str, float] = {}

    def heard(self, replica: str) -> None:
        self._heard[replica] = self._clock()

    def live(self) -> list[str]:
        now = self._clock()
        for replica, at in list(self._heard.items()):
            if now - at > self._timeout:
                del self._heard[replica]
        return sorted({self.me, *self._heard})

    def choice(self, shard: int) -> str:
        """The replica that should lead ``shard`` now."""
        live = self.live()
        return live[shard % len(live)]

    def prefers_me(self, shard: int) -> bool:
        return self.choice(shard) == self.me


class RosterLink:
    """This replica's heartbeat among the replicas, and the roster it fills from theirs."""

    def __init__(
        self, nc: NatsClient, roster: ReplicaRoster, log: EventLogger, *, shards: int
    ) -> None:
        self._nc = nc
        self.roster = roster
        self._log = log
        self._shards = shards
        self._beat = bytes(msgpack.packb({"replica": roster.me, "shards": shards}))
        self._mismatched: set[str] = set()
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(names.PRESENCE_REPLICA, cb=self._on_beat)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def announce(self) -> None:
        with contextlib.suppress(Exception):  # NATS away: the others stop counting on us
            await self._nc.publish(names.PRESENCE_REPLICA, self._beat)

    async def _on_beat(self, msg: Msg) -> None:
        try:
            beat = msgpack.unpackb(msg.data, raw=False)
            replica, shards = str(beat["replica"]), int(beat["shards"])
        except (TypeError, ValueError, KeyError, msgpack.UnpackException):
            self._log.warning("presence.bad_replica_beat")
            return
        if shards != self._shards and replica not in self._mismatched:
            # Both keep working (every write is a compare-and-set, repeats carry their
            # revision or event id), but some work is done twice until they agree.
            self._mismatched.add(replica)
            self._log.warning(
                "presence.shards_mismatch", other=replica, theirs=shards, ours=self._shards
            )
        self.roster.heard(replica)
