"""Prometheus metrics of one presence replica (``haws_presence_*``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class PresenceMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter(
            "haws_presence_events_total",
            "Connection events handled, by kind and outcome (ok, stale, error)",
            ["kind", "outcome"],
            registry=r,
        )
        self.claims = Counter(
            "haws_presence_claims_total", "Session claims, by outcome", ["outcome"], registry=r
        )
        self.batches = Counter(
            "haws_presence_batches_total",
            "Batches of claims and events (each item counted as claim or event too), by outcome",
            ["outcome"],
            registry=r,
        )
        self.takeovers = Counter(
            "haws_presence_takeovers_total", "Takeover commands sent to gateways", registry=r
        )
        self.changes = Counter(
            "haws_presence_changes_total",
            "Join/leave (and counts/members of counts-only topics) published (leader only), "
            "re-sends after a leader change included",
            ["kind"],
            registry=r,
        )
        self.heartbeats = Counter(
            "haws_presence_heartbeats_total", "Node heartbeats answered", registry=r
        )
        self.queries = Counter("haws_presence_queries_total", "Member queries answered", registry=r)
        self.conflicts = Counter(
            "haws_presence_cas_conflicts_total",
            "Record writes retried after a conflict",
            registry=r,
        )
        self.expired = Counter(
            "haws_presence_expired_total", "Offline records deleted after the grace", registry=r
        )
        self.nodes_dead = Counter(
            "haws_presence_nodes_dead_total",
            "Nodes declared dead for missed heartbeats",
            registry=r,
        )
        self.members = Gauge(
            "haws_presence_members", "(topic, session) memberships in the index", registry=r
        )
        self.counts_topics = Gauge(
            "haws_presence_counts_only_topics",
            "Topics in counts-only mode (large: counts instead of join/leave)",
            registry=r,
        )
        self.sessions = Gauge(
            "haws_presence_sessions", "Ownership records, by state", ["state"], registry=r
        )
        self.nodes_alive = Gauge(
            "haws_presence_nodes_alive", "Gateway nodes heard within the timeout", registry=r
        )
        self.is_leader = Gauge(
            "haws_presence_is_leader",
            "1 while this replica holds the leader lease (of one shard at least)",
            registry=r,
        )
        self.shards_led = Gauge(
            "haws_presence_shards_led", "Leader shards whose lease this replica holds", registry=r
        )
