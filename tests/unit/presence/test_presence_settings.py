"""Presence settings: the launcher's flags, the defaults, and refused values."""

from __future__ import annotations

import pytest

from haws.common.settings import SettingsError, load
from haws.presence.settings import PresenceSettings


def test_defaults() -> None:
    s = load(PresenceSettings, {})
    assert (s.http_host, s.http_port, s.name) == ("127.0.0.1", 8092, "")
    assert (s.heartbeat_timeout, s.grace, s.leader_ttl) == (3.0, 5.0, 3.0)
    assert s.node_dead_grace == 15.0


def test_launcher_flags_and_environment() -> None:
    argv = ["--http-port", "9100", "--nats-url", "nats://127.0.0.1:1,nats://127.0.0.1:2"]
    s = load(PresenceSettings, {"HAWS_GRACE": "7.5"}, [*argv, "--stream-replicas", "3"])
    assert s.http_port == 9100
    assert s.stream_replicas == 3
    assert s.grace == 7.5
    assert s.nats_url == ("nats://127.0.0.1:1", "nats://127.0.0.1:2")


@pytest.mark.parametrize(
    "env",
    [
        {"HAWS_GRACE": "0"},
        {"HAWS_NODE_DEAD_GRACE": "0"},
        {"HAWS_LEADER_TTL": "-1"},
        {"HAWS_CAS_ATTEMPTS": "0"},
    ],
)
def test_refused_values(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        load(PresenceSettings, env)
