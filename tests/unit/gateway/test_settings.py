"""Settings: flag over environment over default, one declaration per setting."""

from __future__ import annotations

import pytest

from haws.common.settings import SettingsError, load
from haws.gateway.settings import GatewaySettings


def test_defaults() -> None:
    s = load(GatewaySettings, {})
    assert s.max_frame_bytes == 65536
    assert s.handshake_timeout == 5.0
    assert s.nats_url == ("nats://127.0.0.1:4222",)


def test_environment_then_flags() -> None:
    env = {"HAWS_MAX_SUBSCRIPTIONS": "10", "HAWS_NATS_URL": "nats://a:1, nats://b:2"}
    s = load(GatewaySettings, env, ["--max-subscriptions", "20", "--port", "9"])
    assert s.max_subscriptions == 20
    assert s.port == 9
    assert s.nats_url == ("nats://a:1", "nats://b:2")


def test_booleans_and_bad_values() -> None:
    with pytest.raises(SettingsError, match="HAWS_PORT"):
        load(GatewaySettings, {"HAWS_PORT": "eighty"})
    with pytest.raises(SettingsError):
        load(GatewaySettings, {"HAWS_MAX_FRAME_BYTES": "10"})
    with pytest.raises(SettingsError):
        load(GatewaySettings, {"HAWS_DRAIN_PERIOD": "20", "HAWS_DRAIN_TIMEOUT": "10"})


def test_node_name_defaults_to_host_and_port() -> None:
    assert load(GatewaySettings, {"HAWS_NODE": "g7"}).node_name == "g7"
    assert load(GatewaySettings, {"HAWS_PORT": "81"}).node_name.endswith("-81")
