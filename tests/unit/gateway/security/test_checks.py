"""Security settings are checked at load: a mistake stops the node before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from haws.common.settings import SettingsError, load
from haws.gateway.settings import GatewaySettings
from tests.unit.security import keypairs as kp


def test_defaults_are_anonymous_and_browser_closed() -> None:
    s = load(GatewaySettings, {})
    assert s.auth_mode == "anonymous"
    assert s.allowed_origins == ()
    assert s.compression is False
    assert s.command_rate > 0
    assert s.max_connections > 0


def test_one_setting_turns_jwt_on(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_bytes(kp.public_pem(kp.rsa_key()))
    s = load(
        GatewaySettings,
        {"HAWS_AUTH_MODE": "jwt", "HAWS_AUTH_PUBLIC_KEY_FILE": str(key)},
    )
    assert s.auth_mode == "jwt"
    s = load(
        GatewaySettings,
        {"HAWS_ALLOWED_ORIGINS": "https://a.io,https://b.io", "HAWS_TRUSTED_PROXIES": "10.0.0.0/8"},
    )
    assert s.allowed_origins == ("https://a.io", "https://b.io")


@pytest.mark.parametrize(
    "env",
    [
        {"HAWS_AUTH_MODE": "maybe"},
        {"HAWS_AUTH_MODE": "jwt"},  # no key at all
        {"HAWS_AUTH_MODE": "jwt", "HAWS_AUTH_HS256_SECRET": "short"},
        {"HAWS_AUTH_MODE": "jwt", "HAWS_AUTH_PUBLIC_KEY_FILE": "/nonexistent.pem"},
        {"HAWS_AUTH_MODE": "jwt", "HAWS_AUTH_JWKS_URL": "http://idp.example.com/jwks"},
        {"HAWS_ALLOWED_ORIGINS": "null"},
        {"HAWS_ALLOWED_ORIGINS": "*"},
        {"HAWS_ALLOWED_ORIGINS": "https://*.example.com"},
        {"HAWS_TRUSTED_PROXIES": "not-an-ip"},
        {"HAWS_TLS_CERT_FILE": "/c.pem"},
        {"HAWS_COMMAND_BURST": "0"},
        {"HAWS_MAX_CONNECTIONS": "-1"},
    ],
)
def test_mistakes_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        load(GatewaySettings, env)


def test_jwks_over_http_is_allowed_on_loopback_only() -> None:
    env = {"HAWS_AUTH_MODE": "jwt", "HAWS_AUTH_JWKS_URL": "http://127.0.0.1:9/jwks"}
    assert load(GatewaySettings, env).auth_jwks_url.startswith("http://127.0.0.1")
