"""The checks before a WebSocket upgrade: Origin, node and per-address connection limits.

Refusing before the upgrade costs the node one HTTP response, not a connection,
and tells the client why in a status it understands: 403 (a page from an origin
not allowed), 503 (this node is full: try another) or 429 (too many connections
from this address).
"""

from __future__ import annotations

from aiohttp import web

from haws.gateway.metrics import GatewayMetrics
from haws.gateway.security.conn_limits import ConnectionLimits, Lease, LimitExceeded
from haws.gateway.security.forwarded import client_address, limit_key, parse_networks
from haws.gateway.security.origins import OriginPolicy
from haws.gateway.settings import GatewaySettings

RETRY_AFTER_FULL = "1"
"""Seconds a client told "node full" waits (it should rather try another node)."""
RETRY_AFTER_ADDRESS = "5"
PEER_KEYS_MAX = 4096


class Admission:
    def __init__(
        self, settings: GatewaySettings, limits: ConnectionLimits, metrics: GatewayMetrics
    ) -> None:
        self._origins = OriginPolicy(settings.allowed_origins)
        self._trusted = parse_networks(settings.trusted_proxies)
        self._limits = limits
        self._metrics = metrics
        self._peer_keys: dict[str | None, str] = {}
        """Without trusted proxies the key is the peer's alone: parsed once per peer."""

    def admit(self, request: web.Request) -> Lease:
        """A connection lease, or the HTTP error that refuses the upgrade."""
        if not self._origins.allows(request.headers):
            self._metrics.handshakes_refused.labels("origin").inc()
            raise web.HTTPForbidden(text="origin not allowed")
        try:
            return self._limits.open(self._limit_key(request))
        except LimitExceeded as exc:
            self._metrics.handshakes_refused.labels(f"{exc.kind}_limit").inc()
            self._metrics.limit_hits.labels(f"connections_per_{exc.kind}").inc()
            if exc.kind == "node":
                raise web.HTTPServiceUnavailable(
                    text=str(exc), headers={"Retry-After": RETRY_AFTER_FULL}
                ) from None
            raise web.HTTPTooManyRequests(
                text=str(exc), headers={"Retry-After": RETRY_AFTER_ADDRESS}
            ) from None

    def _limit_key(self, request: web.Request) -> str:
        peer = request.remote
        if self._trusted:
            forwarded = request.headers.getall("X-Forwarded-For", [])
            return limit_key(client_address(peer, forwarded, self._trusted))
        key = self._peer_keys.get(peer)
        if key is None:
            if len(self._peer_keys) >= PEER_KEYS_MAX:
                self._peer_keys.clear()
            key = self._peer_keys[peer] = limit_key(client_address(peer, (), ()))
        return key
