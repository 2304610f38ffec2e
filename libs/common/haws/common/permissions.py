"""Who may do what on the broker and in Consul: the one table every topology is built from.

Each haws service connects to NATS as its own user and may publish and subscribe
only to the subjects below; anything else is refused by the server ("Permissions
Violation"). The table is read by ``haws.common.broker_config`` (NATS
``authorization`` blocks for ``haws up --secure``, compose and Kubernetes) and by
``haws.cluster.consul_acl`` (Consul policies). Subjects come from
``haws.common.names``; the JetStream API pieces are those nats-py sends for the
calls each service makes (``ensure_stream``: STREAM.INFO/CREATE/UPDATE; KV get:
DIRECT.GET or STREAM.MSG.GET on ``KV_<bucket>``; KV watch: an ordered consumer,
CONSUMER.CREATE/DELETE plus flow-control replies on ``$JS.FC``).

No service may delete or purge the message stream, and only presence may write
its KV bucket. Replies to requests a service received go out under
``allow_responses``, so no responder needs publish rights on others' inboxes;
each role has its own inbox prefix, so no service can read another's replies.
"""

from __future__ import annotations

from dataclasses import dataclass

from haws.common import names


@dataclass(frozen=True, slots=True)
class Role:
    """One service's rights. ``consul`` is HCL rules for its Consul token ("" = no token)."""

    name: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    responds: bool = False
    consul: str = ""

    @property
    def user(self) -> str:
        """The NATS user name (and Consul token description) of this role."""
        return f"haws-{self.name}"

    @property
    def inbox_prefix(self) -> str:
        """``HAWS_NATS_INBOX_PREFIX`` for this role; its subscribe rights cover only this."""
        return f"{names.DEFAULT_INBOX_PREFIX}_{self.name}"

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """What this role may subscribe to: its subjects and its own inboxes."""
        return (*self.subscribe, self.inbox_prefix + ".>")

    @property
    def password_variable(self) -> str:
        """Environment variable the NATS server config reads this user's password from."""
        return f"HAWS_NATS_PASSWORD_{self.name.upper()}"


def _declares_stream(stream: str) -> tuple[str, ...]:
    """``ensure_stream``: info, then create or update; never delete or purge."""
    return tuple(names.stream_api(action, stream) for action in ("INFO", "CREATE", "UPDATE"))


def _declares_kv(bucket: str) -> tuple[str, ...]:
    """``ensure_kv``: info, then create (a bucket's config is never updated)."""
    stream = names.kv_stream(bucket)
    return (names.stream_api("INFO", stream), names.stream_api("CREATE", stream))


def _uses_kv(bucket: str) -> tuple[str, ...]:
    """Get (direct or through the leader) and put/create/update/delete of any key."""
    stream = names.kv_stream(bucket)
    return (
        names.kv_subjects(bucket),
        f"{names.JS_API}.DIRECT.GET.{stream}.>",
        names.stream_api("MSG.GET", stream),
    )


def _watches_kv(bucket: str) -> tuple[str, ...]:
    """``kv.watch``: an ordered push consumer, recreated after gaps, deleted at stop."""
    stream = names.kv_stream(bucket)
    return (
        names.consumer_api("CREATE", stream),
        names.consumer_api("CREATE", stream) + ".>",
        names.consumer_api("DELETE", stream) + ".>",
        names.consumer_api("INFO", stream) + ".>",
        f"{names.JS_FLOW_CONTROL}.{stream}.>",
    )


_PRESENCE_REQUESTS = (
    names.PRESENCE_CLAIM,
    names.PRESENCE_EVENT,
    names.PRESENCE_BATCH,
    names.PRESENCE_HEARTBEAT,
    names.PRESENCE_QUERY,
)
_DIRECT_GET = names.direct_get_subject(names.STREAM)
_ANY_GATEWAY_CONTROL = names.gateway_control_subject("*")

GATEWAY = Role(
    name="gateway",
    publish=(
        *names.STREAM_SUBJECTS,
        *_declares_stream(names.STREAM),
        _DIRECT_GET,
        *_declares_kv(names.KV_SESSIONS),
        *_uses_kv(names.KV_SESSIONS),
        *_PRESENCE_REQUESTS,
        names.REPLAY_SUBJECT,
    ),
    subscribe=(
        names.REPUBLISH_DEST,
        names.presence_changes_subject(">"),
        _ANY_GATEWAY_CONTROL,
        # The server API's disconnect command; each gateway answers how many it closed.
        names.GATEWAY_DISCONNECT,
    ),
    responds=True,
    # Registers itself, passes its TTL check, lists the passing gateways.
    consul=(
        f'service "{names.GATEWAY_SERVICE}" {{ policy = "write" }}\n'
        'node_prefix "" { policy = "read" }\n'
    ),
)

PRESENCE = Role(
    name="presence",
    publish=(
        *_declares_kv(names.KV_PRESENCE),
        *_uses_kv(names.KV_PRESENCE),
        *_watches_kv(names.KV_PRESENCE),
        # The leader purges old deletion markers of its own bucket.
        names.stream_api("PURGE", names.kv_stream(names.KV_PRESENCE)),
        names.presence_changes_subject(">"),
        _ANY_GATEWAY_CONTROL,
        # The leader stores the lifecycle events; every replica declares their stream.
        *names.EVENTS_SUBJECTS,
        *_declares_stream(names.EVENTS_STREAM),
        # Its own heartbeat among the replicas, which share the leader shards out.
        names.PRESENCE_REPLICA,
    ),
    subscribe=(*_PRESENCE_REQUESTS, names.PRESENCE_REPLICA),
    responds=True,
)

REPLAY = Role(
    name="replay",
    publish=(*_declares_stream(names.STREAM), _DIRECT_GET),
    # The stored messages as republished: the tail it serves recent pages from.
    subscribe=(names.REPLAY_SUBJECT, names.REPUBLISH_DEST),
    responds=True,
)

API = Role(
    name="api",
    publish=(
        *names.STREAM_SUBJECTS,
        *_declares_stream(names.STREAM),
        *_declares_stream(names.EVENTS_STREAM),
        _DIRECT_GET,
        names.PRESENCE_QUERY,
        names.GATEWAY_DISCONNECT,
        # disconnect with reconnect false deletes the session record.
        names.stream_api("INFO", names.kv_stream(names.KV_SESSIONS)),
        names.kv_subjects(names.KV_SESSIONS),
        # info reads the presence leader's lease (a get, never a write).
        names.stream_api("INFO", names.kv_stream(names.KV_PRESENCE)),
        f"{names.JS_API}.DIRECT.GET.{names.kv_stream(names.KV_PRESENCE)}.>",
        names.stream_api("MSG.GET", names.kv_stream(names.KV_PRESENCE)),
    ),
    subscribe=(names.API_PREFIX + ">", names.API_DISCOVERY),
    responds=True,
    # info and disconnect list the passing gateways; it registers nothing.
    consul=(
        f'service "{names.GATEWAY_SERVICE}" {{ policy = "read" }}\n'
        'node_prefix "" { policy = "read" }\n'
    ),
)
"""The server API (``haws api``): publishes and reads history like a gateway, asks
presence, sends disconnect commands, and never writes the presence bucket or the
events stream (presence's leader writes those)."""

ROLES: dict[str, Role] = {role.name: role for role in (GATEWAY, PRESENCE, REPLAY, API)}

CONSUL_DNS_RULES = (
    f'service "{names.GATEWAY_SERVICE}" {{ policy = "read" }}\n'
    'node_prefix "" { policy = "read" }\n'
)
"""The agent's default token: what DNS lookups (HAProxy's ``server-template``) may see."""

CONSUL_AGENT_RULES = 'node_prefix "" { policy = "write" }\nservice_prefix "" { policy = "read" }\n'
"""The agents' own token: register their node and keep the catalog in sync."""


def role_for(name: str) -> Role:
    try:
        return ROLES[name]
    except KeyError:
        raise KeyError(f"no broker role {name!r}; known: {', '.join(ROLES)}") from None
