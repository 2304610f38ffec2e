"""Server API settings (``HAWS_*`` or flags)."""

from __future__ import annotations

from dataclasses import dataclass

from haws.common.settings import NatsSettings, SettingsError, setting


@dataclass(frozen=True, slots=True)
class ApiSettings(NatsSettings):
    """haws api: publish, broadcast, presence, history, disconnect and info for backends."""

    name: str = setting("", "replica name (default: host-port)")
    http_host: str = setting("127.0.0.1", "address of the HTTP API, /health, /ready, /metrics")
    http_port: int = setting(8093, "port of the HTTP API (0: any free port)")
    public_url: str = setting("", "the HTTP API's base URL as backends reach it (default: bound)")
    api_keys: tuple[str, ...] = setting(
        (), "Bearer keys allowed every method, comma separated (several: rotation)"
    )
    api_read_keys: tuple[str, ...] = setting(
        (), "Bearer keys allowed only presence, presence_stats, history and info"
    )
    max_body_bytes: int = setting(1_048_576, "largest request body (HTTP 413, NATS too_large)")
    rate: float = setting(2000.0, "requests per second per key (NATS: all callers), refilled")
    burst: int = setting(4000, "requests a key may send at once before the rate applies")
    max_inflight: int = setting(256, "requests handled at once per door; more wait")
    max_broadcast_topics: int = setting(100, "topics one broadcast may name")
    max_history: int = setting(1000, "messages one history call may return")
    disconnect_wait: float = setting(
        1.0, "seconds a disconnect waits for the gateways' replies (fewer known from Consul)"
    )
    consul_http: str = setting("http://127.0.0.1:8500", "Consul HTTP API (info: the nodes)")
    consul_token: str = setting("", "Consul ACL token of the api (set it in the environment)")
    log_level: str = setting("info", "debug, info, warning, error")

    def validate(self) -> None:
        for name in ("max_body_bytes", "burst", "max_inflight", "max_broadcast_topics"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be >= 1")
        if self.rate <= 0 or self.disconnect_wait <= 0:
            raise SettingsError("rate and disconnect_wait must be > 0")
        if not 1 <= self.max_history <= 1000:
            raise SettingsError("max_history must be in 1..1000")
        if set(self.api_keys) & set(self.api_read_keys):
            raise SettingsError("a key cannot be both in api_keys and api_read_keys")
