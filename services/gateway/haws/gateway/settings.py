"""Gateway settings: every limit has a default here, a flag and a ``HAWS_*`` variable."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from haws.common.ports import default_name
from haws.common.settings import NatsSettings, SettingsError, setting
from haws.gateway.security.checks import check_security


@dataclass(frozen=True, slots=True)
class GatewaySettings(NatsSettings):
    """haws gateway: the WebSocket node."""

    node: str = setting("", "node name, unique in the cluster (default: host-port)")
    host: str = setting("127.0.0.1", "address to listen on")
    port: int = setting(8080, "port for /ws and HTTP (0: any free port)")
    advertise_host: str = setting(
        "", "address registered in Consul for other hosts to reach (default: host)"
    )
    public_url: str = setting("", "ws URL clients use for this node (default: from host/port)")
    consul_http: str = setting("http://127.0.0.1:8500", "Consul agent HTTP address")
    consul_token: str = setting("", "Consul ACL token of the gateway (set it in the environment)")
    consul_ttl: float = setting(5.0, "seconds of the Consul TTL check (passed every ttl/3)")
    consul_deregister_after: float = setting(60.0, "seconds critical before Consul drops us")
    handshake_timeout: float = setting(5.0, "seconds to send a valid hello (then close 4002)")
    heartbeat: float = setting(10.0, "seconds between WebSocket pings; 2 missed closes the peer")
    max_frame_bytes: int = setting(65536, "largest client frame (then close 1009)")
    close_linger: float = setting(
        2.0, "seconds a closing node reads and discards so its close frame reaches the peer"
    )
    max_subscriptions: int = setting(256, "subscriptions per connection")
    send_queue_frames: int = setting(4096, "frames queued per connection (then close 4008)")
    send_queue_bytes: int = setting(1 << 20, "bytes queued per connection (then close 4008)")
    write_coalesce: float = setting(
        0.05,
        "seconds a socket write pass waits to gather frames while the node is behind (0: never)",
    )
    write_coalesce_lag: float = setting(
        0.02, "seconds of event-loop lateness from which the node counts as behind"
    )
    session_flush_interval: float = setting(
        1.0, "seconds between batched writes of changed session records"
    )
    session_cursor_interval: float = setting(
        5.0, "seconds between writes of a record whose only change is a moved cursor"
    )
    slow_consumer_grace: float = setting(
        5.0, "seconds a 4008-closed peer has to read what was queued before the cut"
    )
    session_ttl: float = setting(3600.0, "seconds a session stays resumable")
    drain_period: float = setting(5.0, "seconds over which SIGTERM spreads reconnect frames")
    drain_timeout: float = setting(10.0, "seconds SIGTERM may take before the node exits")
    topic_check_interval: float = setting(
        5.0, "seconds between checks of quiet topics against the stream's last seq"
    )
    recent_messages: int = setting(
        1000, "messages per topic kept in memory for resuming clients (0: none)"
    )
    recent_max_age: float = setting(10.0, "seconds a message stays in that window")
    presence_heartbeat: float = setting(1.0, "seconds between node heartbeats to presence")
    presence_linger: float = setting(
        0.005, "seconds a new session's claim and presence events wait to share a request"
    )
    pause_threshold: float = setting(
        3.0, "seconds without a heartbeat tick after which the node fences itself"
    )
    replay_timeout: float = setting(
        1.0, "seconds to wait for the replay service before reading the stream directly"
    )
    canary_interval: float = setting(
        1.0, "seconds between backplane probes (stream store, then the live subject), 0: off"
    )
    canary_bound: float = setting(
        3.0, "seconds without a probe back before the node counts itself deaf"
    )
    log_level: str = setting("info", "debug, info, warning, error")
    gc_threshold: int = setting(
        10_000, "allocations between young garbage collections (0: Python's default, 700)"
    )
    # Security and limits (docs/security.md); checked by security_settings at load.
    auth_mode: str = setting("anonymous", "anonymous (tokens ignored) or jwt (hello.token)")
    auth_hs256_secret: str = setting("", "HS256 secret, >= 32 bytes (set it in the environment)")
    auth_public_key_file: str = setting("", "PEM public key: RSA for RS256, EC P-256 for ES256")
    auth_jwks_url: str = setting("", "JWKS URL of RS256/ES256 keys by kid (https)")
    auth_jwks_ttl: float = setting(300.0, "seconds a fetched JWKS is used before refetching")
    auth_jwks_refetch_interval: float = setting(
        30.0, "least seconds between JWKS fetches (an unknown kid triggers one)"
    )
    auth_audience: str = setting("", "required aud claim (empty: tokens must have no aud)")
    auth_issuer: str = setting("", "required iss claim (empty: not checked)")
    auth_leeway: float = setting(5.0, "seconds of clock skew allowed on exp, nbf and iat")
    auth_expiry_grace: float = setting(
        5.0, "seconds after the token's exp before an unrefreshed connection closes 4001"
    )
    allowed_origins: tuple[str, ...] = setting(
        (), "browser Origins allowed, exact, comma separated (empty: no browser page)"
    )
    trusted_proxies: tuple[str, ...] = setting(
        (), "proxy addresses/CIDRs whose X-Forwarded-For names the client"
    )
    max_connections: int = setting(20000, "connections per node (then HTTP 503), 0: unlimited")
    max_connections_per_ip: int = setting(
        1000, "connections per client address or IPv6 /64 (then HTTP 429), 0: unlimited"
    )
    max_connections_per_user: int = setting(
        100, "connections per token user on this node (then close 1013), 0: unlimited"
    )
    command_rate: float = setting(
        1000.0, "commands per second per connection (then rate_limited), 0: unlimited"
    )
    command_burst: int = setting(2000, "commands a connection may send at once above the rate")
    command_strikes: int = setting(
        100, "rate_limited commands in a row before close 4002, 0: never close"
    )
    compression: bool = setting(False, "offer permessage-deflate")
    compression_max_connections: int = setting(
        1000, "connections that may use permessage-deflate at once"
    )
    tls_cert_file: str = setting("", "PEM certificate chain: serve wss:// (with tls_key_file)")
    tls_key_file: str = setting("", "PEM private key of tls_cert_file")

    def validate(self) -> None:
        check_security(self)
        if self.max_frame_bytes < 1024:
            raise SettingsError("HAWS_MAX_FRAME_BYTES must be at least 1024")
        if self.send_queue_frames < 1 or self.send_queue_bytes < 1024:
            raise SettingsError("send queue limits must allow at least one frame")
        if self.canary_interval < 0 or self.canary_bound <= self.canary_interval:
            raise SettingsError("HAWS_CANARY_BOUND must be longer than HAWS_CANARY_INTERVAL")
        if self.drain_period >= self.drain_timeout:
            raise SettingsError("HAWS_DRAIN_PERIOD must be shorter than HAWS_DRAIN_TIMEOUT")
        if self.write_coalesce < 0 or self.write_coalesce > 1.0:
            raise SettingsError("HAWS_WRITE_COALESCE must be between 0 and 1 second")
        if self.write_coalesce_lag <= 0:
            raise SettingsError("HAWS_WRITE_COALESCE_LAG must be > 0")

    @property
    def advertised_host(self) -> str:
        if self.advertise_host:
            return self.advertise_host
        if self.host in ("0.0.0.0", "::", ""):
            # A wildcard is no address to reach: use the one routing to the outside.
            return socket.gethostbyname(socket.gethostname())
        return self.host

    @property
    def node_name(self) -> str:
        return default_name(self.node, self.port)
