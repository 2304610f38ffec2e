"""Presence service settings (``HAWS_*`` or flags)."""

from __future__ import annotations

from dataclasses import dataclass

from haws.common.names import PRESENCE_MAX_SHARDS
from haws.common.settings import NatsSettings, SettingsError, setting


@dataclass(frozen=True, slots=True)
class PresenceSettings(NatsSettings):
    """haws presence: session ownership, node liveness and join/leave over NATS and KV."""

    name: str = setting("", "replica name, unique in the cluster (default: host-port)")
    http_host: str = setting("127.0.0.1", "address of /health, /ready, /metrics")
    http_port: int = setting(8092, "port of /health, /ready, /metrics (0: any free port)")
    heartbeat_timeout: float = setting(
        3.0, "seconds without a node heartbeat before its sessions go offline"
    )
    grace: float = setting(5.0, "seconds an offline session stays a member before it leaves")
    node_dead_grace: float = setting(
        15.0,
        "seconds a session of a gateway declared dead stays a member before it leaves "
        "(its clients are being re-admitted elsewhere, all at once)",
    )
    leader_ttl: float = setting(
        3.0, "seconds the leader lease may stay unrenewed before a follower takes it"
    )
    sweep_interval: float = setting(0.25, "seconds between the leader's liveness/expiry passes")
    max_inflight: int = setting(512, "requests handled at once; more wait")
    cas_attempts: int = setting(20, "compare-and-set attempts on one record before giving up")
    change_log_size: int = setting(
        100_000, "recent join/leave kept so a new leader can re-send what was not published"
    )
    tombstone_age: float = setting(
        600.0, "seconds a deleted record's marker stays in KV before the leader purges it"
    )
    events_resend_window: float = setting(
        30.0,
        "seconds of lifecycle events a new leader re-sends to HAWS_EVENTS "
        "(below stream_duplicate_window, so re-sends are dropped as duplicates)",
    )
    presence_counts_from: int = setting(
        1000,
        "members from which a topic sends coalesced counts instead of join/leave "
        "(back to join/leave below nine tenths of it; 0: never)",
    )
    presence_counts_interval: float = setting(
        1.0, "seconds between two counts of one counts-only topic while it changes"
    )
    presence_sample: int = setting(
        100, "members a presence query on a counts-only topic answers at most"
    )
    presence_shards: int = setting(
        1,
        "leader shards: each has its own lease, so replicas share the leader's work "
        "(join/leave, lifecycle events, dead nodes, expiry); the same on every replica",
    )
    log_level: str = setting("info", "debug, info, warning, error")

    def validate(self) -> None:
        positive = (
            "heartbeat_timeout",
            "grace",
            "node_dead_grace",
            "leader_ttl",
            "sweep_interval",
            "tombstone_age",
            "events_resend_window",
            "presence_counts_interval",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be > 0")
        if self.presence_counts_from < 0:
            raise SettingsError("presence_counts_from must be >= 0")
        if not 1 <= self.presence_shards <= PRESENCE_MAX_SHARDS:
            raise SettingsError(f"presence_shards must be between 1 and {PRESENCE_MAX_SHARDS}")
        for name in ("max_inflight", "cas_attempts", "change_log_size", "presence_sample"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be >= 1")
        if self.events_resend_window >= self.stream_duplicate_window:
            raise SettingsError("events_resend_window must be below stream_duplicate_window")
