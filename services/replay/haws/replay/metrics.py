"""Prometheus metrics of one replay replica (``haws_replay_*``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class ReplayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "haws_replay_requests_total", "Replay requests, by outcome", ["outcome"], registry=r
        )
        self.messages = Counter(
            "haws_replay_messages_total", "Messages returned in replay pages", registry=r
        )
        self.coalesced = Counter(
            "haws_replay_coalesced_total", "Requests served by another request's read", registry=r
        )
        self.pages = Counter(
            "haws_replay_pages_total",
            "Pages served, by source: tail, stream, or stream because the tail lagged",
            ["source"],
            registry=r,
        )
        self.tail_restarts = Counter(
            "haws_replay_tail_restarts_total",
            "Topic tails restarted: a stored message never reached this replica",
            registry=r,
        )
        self.tail_bytes = Gauge(
            "haws_replay_tail_bytes", "Bytes the replay tail holds (estimated)", registry=r
        )
        self.tail_topics = Gauge(
            "haws_replay_tail_topics", "Topics the replay tail holds", registry=r
        )
        self.seconds = Histogram(
            "haws_replay_request_seconds",
            "Request to reply",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=r,
        )
