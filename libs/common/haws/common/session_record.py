"""The resumable session as stored in the ``HAWS_SESSIONS`` KV bucket.

Written by the gateway that holds the connection (batched, see the gateway's
``session_keeper``); read by whichever gateway the client resumes on. The
client's own ``cursors`` take precedence over the stored ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

RECORD_VERSION = 1


@dataclass(frozen=True, slots=True)
class TopicState:
    seq: int
    """Last seq handed to the client's socket (never ahead of it)."""
    presence: bool = False


@dataclass(frozen=True, slots=True)
class SessionRecord:
    subs: dict[str, TopicState] = field(default_factory=dict)
    node: str = ""
    user: str | None = None
    epoch: int = 0
    """The presence epoch of the connection that wrote it (0: unfenced): which of two
    nodes' records is the newer owner's (the gateway's ``SessionKeeper``). Older
    readers ignore the key; a record without it reads as 0."""

    def encode(self) -> bytes:
        record: dict[str, Any] = {
            "v": RECORD_VERSION,
            "subs": {t: [s.seq, s.presence] for t, s in sorted(self.subs.items())},
            "node": self.node,
            "user": self.user,
        }
        if self.epoch:
            record["epoch"] = self.epoch
        return bytes(msgpack.packb(record))

    @classmethod
    def decode(cls, raw: bytes) -> SessionRecord:
        obj: Any = msgpack.unpackb(raw, raw=False)
        return cls(
            subs={t: TopicState(int(v[0]), bool(v[1])) for t, v in obj.get("subs", {}).items()},
            node=str(obj.get("node", "")),
            user=obj.get("user"),
            epoch=int(obj.get("epoch", 0)),
        )
