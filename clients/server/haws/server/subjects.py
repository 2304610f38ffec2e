"""The public NATS names of the server API and the event stream.

The SDK installs without ``haws.common``, so it spells these itself; a unit
test keeps them equal to ``haws.common.names``.
"""

from __future__ import annotations

API_PREFIX = "haws.api.v1."
EVENTS_STREAM = "HAWS_EVENTS"
EVENTS_PREFIX = "haws.events."


def api_subject(method: str) -> str:
    return API_PREFIX + method
