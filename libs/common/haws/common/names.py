"""Every NATS name haws uses: subjects, stream, buckets, queue groups.

Services build names only through these functions, so a subject is spelled once.
"""

from __future__ import annotations

# The public names (server API, lifecycle event stream) live in haws.protocol,
# which both SDKs ship; they are importable from here like every other name.
from haws.protocol.names import API_DISCOVERY as API_DISCOVERY
from haws.protocol.names import API_METHODS as API_METHODS
from haws.protocol.names import API_PREFIX as API_PREFIX
from haws.protocol.names import API_SERVICE as API_SERVICE
from haws.protocol.names import EVENT_TYPES as EVENT_TYPES
from haws.protocol.names import EVENTS_PREFIX as EVENTS_PREFIX
from haws.protocol.names import EVENTS_STREAM as EVENTS_STREAM
from haws.protocol.names import EVENTS_SUBJECTS as EVENTS_SUBJECTS
from haws.protocol.names import api_subject as api_subject
from haws.protocol.names import events_subject as events_subject

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
HDR_EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
"""A conditional write: stored only if the subject's last message has this seq (0: none)."""
WRONG_LAST_SEQUENCE = (10071, 10164)
"""JetStream's error codes for a failed expected-last-sequence check
(JSStreamWrongLastSequenceErrF and its constant twin)."""
# haws' own headers on stored messages.
HDR_FROM = "Haws-From"


PRESENCE_CLAIM = "haws.presence.claim"
"""Request: a gateway claims a session for one connection (queue group)."""
PRESENCE_EVENT = "haws.presence.event"
"""Request: a connection event (presence sub/unsub, close), acked by the service."""
PRESENCE_BATCH = "haws.presence.batch"
"""Request (haws, issue 14): claims and events of many sessions in one message."""
PRESENCE_HEARTBEAT = "haws.presence.hb"
"""Request: a gateway's node heartbeat; the reply renews the node's lease."""
PRESENCE_QUERY = "haws.presence.query"
"""Request: who is on a topic now."""
PRESENCE_REPLICA = "haws.presence.replica"
"""Every presence replica's own heartbeat, heard by every replica (issue 14): the live
replicas among which the leader shards are shared out."""
PRESENCE_QUEUE = "haws-presence"
PRESENCE_CHANGES_PREFIX = "haws.pres."
KV_PRESENCE_OWNER_PREFIX = "own."
KV_PRESENCE_LEADER = "leader"


PRESENCE_MAX_SHARDS = 256
"""Presence leader shards at most: each is a lease renewed every ``leader_ttl / 3``."""


def presence_shard_key(shard: int) -> str:
    """The lease of leader shard ``shard`` (of more than one)."""
    return f"{KV_PRESENCE_LEADER}.{shard}"


def presence_leader_key(shard: int, shards: int) -> str:
    """The lease of one leader shard; a single shard keeps the unsharded key."""
    return KV_PRESENCE_LEADER if shards == 1 else presence_shard_key(shard)


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

API_QUEUE = "haws-api"
"""Queue group the server API's replicas share the work in."""

# --- JetStream API and KV subjects, as the broker's permissions name them ---
JS_API = "$JS.API"
JS_FLOW_CONTROL = "$JS.FC"
DEFAULT_INBOX_PREFIX = "_INBOX"


def kv_stream(bucket: str) -> str:
    """The stream behind a KV bucket."""
    return f"KV_{bucket}"


def kv_key_prefix(bucket: str) -> str:
    """A key's subject is this prefix and the key: a put is a publish to it."""
    return f"$KV.{bucket}."


def kv_subjects(bucket: str) -> str:
    """Every key of a bucket, as puts and deletes are published."""
    return f"$KV.{bucket}.>"


def stream_api(action: str, stream: str) -> str:
    """``$JS.API.STREAM.<action>.<stream>``: INFO, CREATE, UPDATE, PURGE, MSG.GET, ..."""
    return f"{JS_API}.STREAM.{action}.{stream}"


def consumer_api(action: str, stream: str) -> str:
    """``$JS.API.CONSUMER.<action>.<stream>``; ``stream_api`` names the stream's own calls."""
    return f"{JS_API}.CONSUMER.{action}.{stream}"
