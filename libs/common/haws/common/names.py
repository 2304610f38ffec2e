"""Every NATS name haws uses: subjects, stream, buckets, queue groups.

Services build names only through these functions, so a subject is spelled once.
"""

from __future__ import annotations

STREAM = "HAWS"
"""The message stream: every published message, the source of history."""

TOPIC_PREFIX = "haws.t."
LIVE_PREFIX = "haws.live."

STREAM_SUBJECTS = (TOPIC_PREFIX + ">",)
REPUBLISH_SOURCE = TOPIC_PREFIX + ">"
REPUBLISH_DEST = LIVE_PREFIX + ">"

KV_SESSIONS = "HAWS_SESSIONS"
KV_PRESENCE = "HAWS_PRESENCE"

REPLAY_SUBJECT = "haws.svc.replay"
REPLAY_QUEUE = "haws-replay"

GATEWAY_SERVICE = "haws-gateway"
"""Consul service name of gateway nodes."""

# JetStream headers the gateway reads from republished and direct-get messages.
HDR_SEQUENCE = "Nats-Sequence"
HDR_LAST_SEQUENCE = "Nats-Last-Sequence"
HDR_TIMESTAMP = "Nats-Time-Stamp"
HDR_SUBJECT = "Nats-Subject"
HDR_MSG_ID = "Nats-Msg-Id"
# haws' own headers on stored messages.
HDR_FROM = "Haws-From"


PRESENCE_CLAIM = "haws.presence.claim"
"""Request: a gateway claims a session for one connection (queue group)."""
PRESENCE_EVENT = "haws.presence.event"
"""Request: a connection event (presence sub/unsub, close), acked by the service."""
PRESENCE_HEARTBEAT = "haws.presence.hb"
"""Request: a gateway's node heartbeat; the reply renews the node's lease."""
PRESENCE_QUERY = "haws.presence.query"
"""Request: who is on a topic now."""
PRESENCE_QUEUE = "haws-presence"
PRESENCE_CHANGES_PREFIX = "haws.pres."
KV_PRESENCE_OWNER_PREFIX = "own."
KV_PRESENCE_LEADER = "leader"


def presence_changes_subject(topic: str) -> str:
    """Join/leave of one topic, published by the presence leader to every gateway."""
    return PRESENCE_CHANGES_PREFIX + topic


def presence_owner_key(session: str) -> str:
    return KV_PRESENCE_OWNER_PREFIX + session


CANARY_TOPIC_PREFIX = "_haws-canary."
"""Topics of the gateways' backplane probes (one per node), stored like any topic."""


def canary_topic(node: str) -> str:
    """The topic one gateway's canary probes travel on (stream, then live subject)."""
    return CANARY_TOPIC_PREFIX + node


def topic_subject(topic: str) -> str:
    """Subject a topic is stored under in the stream."""
    return TOPIC_PREFIX + topic


def live_subject(topic: str) -> str:
    """Subject the stream republishes a topic's stored messages to."""
    return LIVE_PREFIX + topic


def topic_of_live(subject: str) -> str:
    return subject[len(LIVE_PREFIX) :]


def topic_of_stored(subject: str) -> str:
    return subject[len(TOPIC_PREFIX) :]


def direct_get_subject(stream: str = STREAM) -> str:
    """JetStream direct-get API subject (served by every replica)."""
    return f"$JS.API.DIRECT.GET.{stream}"


def gateway_control_subject(node: str) -> str:
    """Commands addressed to one gateway node (takeover, drain)."""
    return f"haws.ctl.gateway.{node}"


GATEWAY_DISCONNECT = "haws.ctl.disconnect"
"""Request to every gateway (no queue group): close a user's or a session's connections."""

API_SERVICE = "haws-api"
"""Name of the server API: the NATS micro service, its queue group, its Consul service."""
API_PREFIX = "haws.api.v1."
API_QUEUE = "haws-api"
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


API_DISCOVERY = "$SRV.>"
"""NATS micro discovery (PING, INFO, STATS) every micro service answers."""


# --- JetStream API and KV subjects, as the broker's permissions name them ---
JS_API = "$JS.API"
JS_FLOW_CONTROL = "$JS.FC"
DEFAULT_INBOX_PREFIX = "_INBOX"


def kv_stream(bucket: str) -> str:
    """The stream behind a KV bucket."""
    return f"KV_{bucket}"


def kv_subjects(bucket: str) -> str:
    """Every key of a bucket, as puts and deletes are published."""
    return f"$KV.{bucket}.>"


def stream_api(action: str, stream: str) -> str:
    """``$JS.API.STREAM.<action>.<stream>``: INFO, CREATE, UPDATE, PURGE, MSG.GET, ..."""
    return f"{JS_API}.STREAM.{action}.{stream}"


def consumer_api(action: str, stream: str) -> str:
    """``$JS.API.CONSUMER.<action>.<stream>``; ``stream_api`` names the stream's own calls."""
    return f"{JS_API}.CONSUMER.{action}.{stream}"
