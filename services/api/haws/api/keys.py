"""Bearer keys of the HTTP API: several valid at once, so a key can be rotated.

Rotation: add the new key next to the old one, move every backend to it,
remove the old one. Read keys may only read (presence, presence_stats,
history, info). Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from haws.protocol.errors import Forbidden, Unauthorized

READ_METHODS = frozenset({"presence", "presence_stats", "history", "info"})


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    """``key<N>`` or ``read<N>``: which key, never the key itself (logs, rate buckets)."""
    read_only: bool


class ApiKeys:
    def __init__(self, keys: tuple[str, ...], read_keys: tuple[str, ...] = ()) -> None:
        self._keys = [(f"key{i}", k.encode(), False) for i, k in enumerate(keys)]
        self._keys += [(f"read{i}", k.encode(), True) for i, k in enumerate(read_keys)]

    def caller(self, authorization: str | None) -> Caller:
        """Who presents ``Authorization: Bearer <key>``; ``unauthorized`` otherwise."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorized("send Authorization: Bearer <api key>")
        presented = authorization[len("Bearer ") :].strip().encode()
        found: Caller | None = None
        for name, key, read_only in self._keys:  # every key compared: no timing of the match
            if hmac.compare_digest(presented, key) and found is None:
                found = Caller(name, read_only)
        if found is None:
            raise Unauthorized("unknown api key")
        return found

    @staticmethod
    def check(caller: Caller, method: str) -> None:
        if caller.read_only and method not in READ_METHODS:
            raise Forbidden(f"a read key may not call {method}")
