"""haws.server: what an application backend uses to talk to haws.

``ServerApi`` calls the server API over HTTP (a key) or NATS (a connection);
``EventFeed`` reads the lifecycle events of ``HAWS_EVENTS``; ``token`` mints a
client JWT the gateways accept.
"""

from haws.protocol.lifecycle import EventType, LifecycleEvent, Reason
from haws.server.api import ServerApi, Stored
from haws.server.errors import ApiError
from haws.server.events import EventFeed
from haws.server.http_transport import HttpTransport
from haws.server.nats_transport import NatsTransport
from haws.server.tokens import token

__all__ = [
    "ApiError",
    "EventFeed",
    "EventType",
    "HttpTransport",
    "LifecycleEvent",
    "NatsTransport",
    "Reason",
    "ServerApi",
    "Stored",
    "token",
]
