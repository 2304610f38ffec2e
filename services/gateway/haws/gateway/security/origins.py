"""Which web pages may open a WebSocket here: an exact Origin allow-list, before the upgrade.

A browser lets any page it shows open a WebSocket to any host, and says which page
in ``Origin``; without this check any site a user visits could talk to the
gateway from the user's network position (cross-site WebSocket hijacking).
Clients that are not browsers send no ``Origin``: they are let through and
authenticate with ``hello.token`` like everybody else.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from multidict import CIMultiDictProxy

OPAQUE: Final = "null"
"""The Origin of sandboxed frames, ``file:`` pages and redirects: never allowed."""


def normalize_origin(value: str) -> str:
    """``scheme://host[:port]`` lower-cased, as browsers serialise an Origin.

    Raises ``ValueError`` for anything else (paths, wildcards, ``null``), so a
    setting can never widen the list by accident.
    """
    text = value.strip().rstrip("/")
    if text == OPAQUE or "*" in text:
        raise ValueError(f"{value!r}: 'null' and wildcards cannot be allowed")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin (scheme://host[:port])")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{value!r}: an origin has no path, query or credentials")
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class OriginPolicy:
    def __init__(self, allowed: Iterable[str]) -> None:
        self._allowed = frozenset(normalize_origin(o) for o in allowed)

    def allows(self, headers: CIMultiDictProxy[str]) -> bool:
        """No Origin (not a browser): yes. One Origin: only an exact listed match."""
        origins = headers.getall("Origin", [])
        if not origins:
            return True
        if len(origins) != 1:
            return False
        return origins[0] != OPAQUE and origins[0] in self._allowed
