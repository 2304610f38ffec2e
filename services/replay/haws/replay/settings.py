"""Replay service settings (``HAWS_*`` or flags)."""

from __future__ import annotations

from dataclasses import dataclass

from haws.common.settings import NatsSettings, setting


@dataclass(frozen=True, slots=True)
class ReplaySettings(NatsSettings):
    """haws replay: serves history pages to gateways over NATS request-reply."""

    name: str = setting("", "replica name (default: host-port)")
    http_host: str = setting("127.0.0.1", "address of /health, /ready, /metrics")
    http_port: int = setting(8091, "port of /health, /ready, /metrics (0: any free port)")
    max_inflight: int = setting(256, "stream reads in progress at once; more requests wait")
    log_level: str = setting("info", "debug, info, warning, error")
