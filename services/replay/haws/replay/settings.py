"""Replay service settings (``HAWS_*`` or flags)."""

from __future__ import annotations

from dataclasses import dataclass

from haws.common.settings import NatsSettings, SettingsError, setting


@dataclass(frozen=True, slots=True)
class ReplaySettings(NatsSettings):
    """haws replay: serves history pages to gateways over NATS request-reply."""

    name: str = setting("", "replica name (default: host-port)")
    http_host: str = setting("127.0.0.1", "address of /health, /ready, /metrics")
    http_port: int = setting(8091, "port of /health, /ready, /metrics (0: any free port)")
    max_inflight: int = setting(256, "stream reads in progress at once; more requests wait")
    tail_bytes: int = setting(
        64 << 20, "bytes of recent messages held encoded for replay, all topics (0: off)"
    )
    tail_messages: int = setting(
        100_000, "recent messages held per topic (at most stream_max_msgs_per_subject)"
    )
    log_level: str = setting("info", "debug, info, warning, error")

    def validate(self) -> None:
        if self.max_inflight < 1:
            raise SettingsError("max_inflight must be >= 1")
        for name in ("tail_bytes", "tail_messages"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must be >= 0 (0 turns the tail off)")
