"""Consistency checks of the security settings, run when the settings are loaded.

A mistake here (a typo in an origin, a short secret, a key that will not load)
must stop the node at start, not show up later as everyone refused -- or worse,
everyone let in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from urllib.parse import urlsplit

from haws.common.settings import SettingsError
from haws.gateway.security.forwarded import parse_networks
from haws.gateway.security.jwks import load_public_key
from haws.gateway.security.origins import normalize_origin

AUTH_MODES = ("anonymous", "jwt")
MIN_SECRET_BYTES = 32
_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class SecuritySettings(Protocol):
    """The settings checked here (``GatewaySettings`` has them; this module need not
    know the rest, and the settings module imports it)."""

    @property
    def auth_mode(self) -> str: ...
    @property
    def auth_hs256_secret(self) -> str: ...
    @property
    def auth_public_key_file(self) -> str: ...
    @property
    def auth_jwks_url(self) -> str: ...
    @property
    def auth_leeway(self) -> float: ...
    @property
    def auth_expiry_grace(self) -> float: ...
    @property
    def allowed_origins(self) -> Sequence[str]: ...
    @property
    def trusted_proxies(self) -> Sequence[str]: ...
    @property
    def tls_cert_file(self) -> str: ...
    @property
    def tls_key_file(self) -> str: ...
    @property
    def max_connections(self) -> int: ...
    @property
    def max_connections_per_ip(self) -> int: ...
    @property
    def max_connections_per_user(self) -> int: ...
    @property
    def command_rate(self) -> float: ...
    @property
    def command_burst(self) -> int: ...
    @property
    def command_strikes(self) -> int: ...


def check_security(s: SecuritySettings) -> None:
    if s.auth_mode not in AUTH_MODES:
        raise SettingsError(f"HAWS_AUTH_MODE must be one of {', '.join(AUTH_MODES)}")
    if s.auth_mode == "jwt":
        _check_jwt(s)
    for origin in s.allowed_origins:
        try:
            normalize_origin(origin)
        except ValueError as exc:
            raise SettingsError(f"HAWS_ALLOWED_ORIGINS: {exc}") from None
    try:
        parse_networks(s.trusted_proxies)
    except ValueError as exc:
        raise SettingsError(f"HAWS_TRUSTED_PROXIES: {exc}") from None
    if bool(s.tls_cert_file) != bool(s.tls_key_file):
        raise SettingsError("HAWS_TLS_CERT_FILE and HAWS_TLS_KEY_FILE go together")
    if s.auth_leeway < 0 or s.auth_leeway > 300 or s.auth_expiry_grace < 0:
        raise SettingsError("HAWS_AUTH_LEEWAY must be 0-300 s, HAWS_AUTH_EXPIRY_GRACE >= 0")
    if min(s.max_connections, s.max_connections_per_ip, s.max_connections_per_user) < 0:
        raise SettingsError("connection limits must be >= 0 (0: unlimited)")
    if s.command_rate < 0 or s.command_burst < 1 or s.command_strikes < 0:
        raise SettingsError("HAWS_COMMAND_RATE >= 0, HAWS_COMMAND_BURST >= 1, strikes >= 0")


def _check_jwt(s: SecuritySettings) -> None:
    if not (s.auth_hs256_secret or s.auth_public_key_file or s.auth_jwks_url):
        raise SettingsError(
            "HAWS_AUTH_MODE=jwt needs HAWS_AUTH_HS256_SECRET, HAWS_AUTH_PUBLIC_KEY_FILE "
            "or HAWS_AUTH_JWKS_URL"
        )
    if s.auth_hs256_secret and len(s.auth_hs256_secret.encode()) < MIN_SECRET_BYTES:
        raise SettingsError(f"HAWS_AUTH_HS256_SECRET must be at least {MIN_SECRET_BYTES} bytes")
    if s.auth_public_key_file:
        load_public_key(s.auth_public_key_file)
    if s.auth_jwks_url:
        url = urlsplit(s.auth_jwks_url)
        if url.scheme != "https" and not (url.scheme == "http" and url.hostname in _LOOPBACK_HOSTS):
            raise SettingsError("HAWS_AUTH_JWKS_URL must be https:// (http:// on loopback only)")
