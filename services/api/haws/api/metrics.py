"""Prometheus metrics of one API replica (``haws_api_*``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class ApiMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "haws_api_requests_total",
            "API requests, by door (http, nats), method and outcome (ok or the error code)",
            ["door", "method", "outcome"],
            registry=r,
        )
        self.seconds = Histogram(
            "haws_api_request_seconds",
            "Time to answer one API request, by door",
            ["door"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
