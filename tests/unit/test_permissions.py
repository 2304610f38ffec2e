"""The broker's permission table: what each role may touch, and the files made from it.

NATS subject matching is re-implemented here (``*`` one token, ``>`` the rest)
so the table's promises are checked as the server would read them; the e2e
test ``tests/e2e/test_up_secure.py`` proves the same rights on a real server.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from haws.common import names
from haws.common.broker_config import authorization
from haws.common.permissions import API, GATEWAY, PRESENCE, REPLAY, ROLES, Role
from haws.common.settings import NatsSettings, SettingsError, check_nats_credentials, load

ROOT = Path(__file__).resolve().parents[2]
AUTH_CONF = ROOT / "deploy" / "nats" / "auth.conf"


def matches(pattern: str, subject: str) -> bool:
    want, got = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(got) > i
        if i >= len(got) or (token != "*" and token != got[i]):
            return False
    return len(want) == len(got)


def may_publish(role: Role, subject: str) -> bool:
    return any(matches(p, subject) for p in role.publish)


def may_subscribe(role: Role, subject: str) -> bool:
    return any(matches(p, subject) for p in role.subscriptions)


def test_matcher_follows_nats_wildcards() -> None:
    assert matches("haws.t.>", "haws.t.a.b")
    assert not matches("haws.t.>", "haws.t")
    assert matches("haws.ctl.gateway.*", "haws.ctl.gateway.gw-1")
    assert not matches("haws.ctl.gateway.*", "haws.ctl.gateway.gw-1.x")
    assert not matches("$JS.API.STREAM.INFO.HAWS", "$JS.API.STREAM.INFO.HAWS_EVENTS")


@pytest.mark.parametrize("role", ROLES.values(), ids=list(ROLES))
def test_no_role_may_delete_or_purge_the_message_stream(role: Role) -> None:
    for action in ("DELETE", "PURGE", "MSG.DELETE"):
        assert not may_publish(role, names.stream_api(action, names.STREAM)), action
    assert not may_publish(role, names.consumer_api("DELETE", names.STREAM) + ".x")
    assert not may_publish(role, "$JS.API.STREAM.DELETE.KV_HAWS_SESSIONS")


def test_only_presence_writes_the_presence_bucket() -> None:
    key = "$KV.HAWS_PRESENCE." + names.presence_owner_key("s1")
    writers = {name for name, role in ROLES.items() if may_publish(role, key)}
    assert writers == {"presence"}
    assert may_publish(PRESENCE, names.stream_api("PURGE", "KV_HAWS_PRESENCE"))


def test_only_gateways_and_the_api_write_sessions_and_only_publishers_write_topics() -> None:
    session_key = "$KV.HAWS_SESSIONS.abc"
    # The api deletes a session record on disconnect with reconnect false.
    writers = {n for n, r in ROLES.items() if may_publish(r, session_key)}
    assert writers == {"gateway", "api"}
    topic = names.topic_subject("room.1")
    assert {n for n, r in ROLES.items() if may_publish(r, topic)} == {"gateway", "api"}
    # Nobody publishes live subjects: only the stream's republish does.
    assert not any(may_publish(r, names.live_subject("room.1")) for r in ROLES.values())


def test_each_service_can_do_what_its_code_does() -> None:
    assert may_subscribe(GATEWAY, names.live_subject("room.1"))
    assert may_subscribe(GATEWAY, names.presence_changes_subject("room.1"))
    assert may_subscribe(GATEWAY, names.gateway_control_subject("gw-1"))
    assert may_publish(GATEWAY, names.direct_get_subject())
    assert may_publish(GATEWAY, names.REPLAY_SUBJECT)
    for subject in (names.PRESENCE_CLAIM, names.PRESENCE_EVENT, names.PRESENCE_HEARTBEAT):
        assert may_publish(GATEWAY, subject)
        assert may_subscribe(PRESENCE, subject)
    assert may_publish(PRESENCE, names.gateway_control_subject("gw-1"))
    assert may_publish(PRESENCE, names.presence_changes_subject("room.1"))
    assert may_subscribe(REPLAY, names.REPLAY_SUBJECT)
    assert may_publish(REPLAY, names.direct_get_subject())
    assert not may_publish(REPLAY, names.topic_subject("room.1"))
    assert may_subscribe(API, names.API_PREFIX + "publish")
    assert may_publish(API, names.GATEWAY_DISCONNECT)
    assert may_publish(API, names.PRESENCE_QUERY)
    # Lifecycle events are stored by presence's leader; the api only reads their stream.
    assert not may_publish(API, names.EVENTS_PREFIX + "connect")
    assert may_subscribe(GATEWAY, names.GATEWAY_DISCONNECT)


def test_inboxes_are_private_to_each_role() -> None:
    prefixes = {role.inbox_prefix for role in ROLES.values()}
    assert len(prefixes) == len(ROLES)
    for role in ROLES.values():
        for other in ROLES.values():
            inbox = f"{other.inbox_prefix}.abc.1"
            assert may_subscribe(role, inbox) == (role is other)
        assert not may_subscribe(role, "_INBOX.abc")
    # Responders answer through allow_responses, never through publish rights.
    assert all(not may_publish(r, "_INBOX_gateway.x") for r in ROLES.values())
    # Gateways answer the api's disconnect command with how many sessions they closed.
    expected = {"gateway", "presence", "replay", "api"}
    assert {r.name for r in ROLES.values() if r.responds} == expected


def test_committed_auth_conf_is_the_generated_one() -> None:
    assert AUTH_CONF.read_text() == authorization(), (
        "run .venv/bin/python scripts/render_auth.py --write"
    )


def test_literal_passwords_are_quoted_and_references_are_variables() -> None:
    literal = authorization({name: f'pw"{name}' for name in ROLES})
    assert 'password: "pw\\"gateway"' in literal
    assert "password: $HAWS_NATS_PASSWORD_GATEWAY" in authorization()


def nats(**values: Any) -> NatsSettings:
    return dataclasses.replace(NatsSettings(), **values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"nats_user": "haws-gateway"}, "go together"),
        ({"nats_password": "x"}, "go together"),
        ({"nats_user": "u", "nats_password": "p", "nats_creds_file": "/x"}, "only one"),
        ({"nats_tls_cert_file": "/etc/hostname"}, "go together"),
        ({"nats_tls_ca_file": "/no/such/ca.pem"}, "no file"),
        ({"nats_creds_file": "/no/such.creds"}, "no file"),
        ({"nats_inbox_prefix": "_INBOX.x"}, "one subject token"),
        ({"nats_inbox_prefix": ""}, "one subject token"),
    ],
)
def test_incomplete_or_conflicting_nats_credentials_stop_the_start(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        check_nats_credentials(nats(**values))


def test_credentials_are_read_from_the_environment_at_load(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here")
    settings = load(
        NatsSettings,
        {
            "HAWS_NATS_USER": "haws-replay",
            "HAWS_NATS_PASSWORD": "secret",
            "HAWS_NATS_INBOX_PREFIX": "_INBOX_replay",
            "HAWS_NATS_TLS_CA_FILE": str(ca),
        },
    )
    assert (settings.nats_user, settings.nats_password) == ("haws-replay", "secret")
    assert settings.nats_inbox_prefix == REPLAY.inbox_prefix
    with pytest.raises(SettingsError, match="go together"):
        load(NatsSettings, {"HAWS_NATS_USER": "haws-replay"})


def test_the_default_stays_anonymous_for_local_development() -> None:
    settings = load(NatsSettings, {})
    assert settings.nats_user == ""
    assert settings.nats_inbox_prefix == "_INBOX"
