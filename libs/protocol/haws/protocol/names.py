"""The NATS names an application backend uses: the server API and the event stream.

Here, in the layer both SDKs ship, so the server, the server SDK and a backend
spell them once; ``haws.common.names`` re-exports them beside the internal names.
"""

from __future__ import annotations

API_SERVICE = "haws-api"
"""Name of the server API: the NATS micro service, its queue group, its Consul service."""
API_PREFIX = "haws.api.v1."
API_METHODS = (
    "publish",
    "broadcast",
    "presence",
    "presence_stats",
    "history",
    "disconnect",
    "info",
)
"""Every server API method, in the order the docs list them."""
API_DISCOVERY = "$SRV.>"
"""NATS micro discovery (PING, INFO, STATS) every micro service answers."""


def api_subject(method: str) -> str:
    """The NATS subject of one server API method (a micro service endpoint)."""
    return API_PREFIX + method


EVENTS_STREAM = "HAWS_EVENTS"
"""The lifecycle event stream: connect, resume, disconnect, join, leave."""
EVENTS_PREFIX = "haws.events."
EVENTS_SUBJECTS = (EVENTS_PREFIX + ">",)
EVENT_TYPES = ("connect", "resume", "disconnect", "join", "leave")


def events_subject(event_type: str) -> str:
    """Subject one lifecycle event type is stored under in ``HAWS_EVENTS``."""
    return EVENTS_PREFIX + event_type
