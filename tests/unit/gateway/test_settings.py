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


@pytest.mark.parametrize(
    "env",
    [
        {"HAWS_WRITE_COALESCE": "-0.01"},
        {"HAWS_WRITE_COALESCE": "2"},
        {"HAWS_WRITE_COALESCE_LAG": "0"},
    ],
)
def test_write_gathering_limits_are_checked(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="HAWS_WRITE_COALESCE"):
        load(GatewaySettings, env)


def test_write_gathering_defaults_and_off() -> None:
    s = load(GatewaySettings, {})
    assert (s.write_coalesce, s.write_coalesce_lag) == (0.05, 0.02)
    assert load(GatewaySettings, {"HAWS_WRITE_COALESCE": "0"}).write_coalesce == 0.0


def test_node_name_defaults_to_host_and_port() -> None:
    assert load(GatewaySettings, {"HAWS_NODE": "g7"}).node_name == "g7"
    assert load(GatewaySettings, {"HAWS_PORT": "81"}).node_name.endswith("-81")
