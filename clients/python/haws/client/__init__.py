"""haws Python SDK: an asyncio client for protocol v1 with failover, resume and
exactly-once delivery to the application. Start at ``Client``."""

from haws.client.client import Client
from haws.client.presence_tracker import PresenceTracker
from haws.client.router import MessageStream
from haws.client.types import (
    AuthenticationFailed,
    ClientClosed,
    ClientError,
    Message,
    OutboxFull,
    PresenceAnswer,
    PresenceCounts,
    PresenceMember,
    PubAck,
    SessionTakenOver,
    State,
    Stats,
)

__all__ = [
    "AuthenticationFailed",
    "Client",
    "ClientClosed",
    "ClientError",
    "Message",
    "MessageStream",
    "OutboxFull",
    "PresenceAnswer",
    "PresenceCounts",
    "PresenceMember",
    "PresenceTracker",
    "PubAck",
    "SessionTakenOver",
    "State",
    "Stats",
]
