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

    def encode(self) -> bytes:
        record = {
            "v": RECORD_VERSION,
            "subs": {t: [s.seq, s.presence] for t, s in sorted(self.subs.items())},
            "node": self.node,
            "user": self.user,
        }
        return bytes(msgpack.packb(record))

    @classmethod
    def decode(cls, raw: bytes) -> SessionRecord:
        obj: Any = msgpack.unpackb(raw, raw=False)
        return cls(
            subs={t: TopicState(int(v[0]), bool(v[1])) for t, v in obj.get("subs", {}).items()},
            node=str(obj.get("node", "")),
            user=obj.get("user"),
        )
