"""Readiness probes over loopback HTTP, with proxies from the environment ignored.

A developer's ``http_proxy`` must never capture requests to 127.0.0.1, so the
opener is built without the environment's proxy settings.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 0.5) -> tuple[int, bytes] | None:
    """Status and body of a GET, or None when nothing answered in time."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except (OSError, ValueError):
        # URLError, refused, reset, timed out, or a half-written HTTP reply.
        return None


def http_ok(url: str, timeout: float = 0.5) -> bool:
    """True when ``url`` answers 200."""
    reply = http_get(url, timeout)
    return reply is not None and reply[0] == 200


def http_json(url: str, timeout: float = 0.5) -> Any:
    """The JSON body of a 200 reply, or None for any other outcome."""
    reply = http_get(url, timeout)
    if reply is None or reply[0] != 200:
        return None
    try:
        return json.loads(reply[1])
    except ValueError:
        return None
