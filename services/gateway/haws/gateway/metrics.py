"""Prometheus metrics of one gateway node (``haws_gateway_*``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.connections = Gauge(
            "haws_gateway_connections", "Open WebSocket connections", registry=r
        )
        self.connections_total = Counter(
            "haws_gateway_connections_opened_total", "WebSocket connections accepted", registry=r
        )
        self.hellos = Counter(
            "haws_gateway_hellos_total",
            "Sessions opened, by whether a stored session was resumed",
            ["resumed"],
            registry=r,
        )
        self.closes = Counter(
            "haws_gateway_closes_total", "Connections closed, by close code", ["code"], registry=r
        )
        self.topics = Gauge("haws_gateway_topics", "Topics with local subscribers", registry=r)
        self.frames_in = Counter(
            "haws_gateway_frames_in_total", "Client frames received, by op", ["op"], registry=r
        )
        self.errors = Counter(
            "haws_gateway_errors_total", "Error frames sent, by code", ["code"], registry=r
        )
        self.published = Counter(
            "haws_gateway_published_total", "Messages acked by JetStream", ["dup"], registry=r
        )
        self.publish_seconds = Histogram(
            "haws_gateway_publish_seconds",
            "pub to JetStream PubAck",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.delivered = Counter(
            "haws_gateway_delivered_total", "msg frames queued to clients", registry=r
        )
        self.received = Counter(
            "haws_gateway_live_received_total", "Live messages received from NATS", registry=r
        )
        self.gap_fills = Counter(
            "haws_gateway_gap_fills_total", "prev-chain breaks filled from the stream", registry=r
        )
        self.history_reads = Counter(
            "haws_gateway_history_reads_total", "History pages read for since/resume", registry=r
        )
        self.replay_reads = Counter(
            "haws_gateway_replay_reads_total",
            "History pages served by the replay service",
            registry=r,
        )
        self.replay_fallbacks = Counter(
            "haws_gateway_replay_fallbacks_total",
            "History pages read from the stream directly because replay did not answer",
            ["reason"],
            registry=r,
        )
        self.limit_hits = Counter(
            "haws_gateway_limit_hits_total", "Requests refused by a limit", ["limit"], registry=r
        )
        self.slow_consumers = Counter(
            "haws_gateway_slow_consumers_total", "Connections closed 4008", registry=r
        )
        self.handshakes_refused = Counter(
            "haws_gateway_handshakes_refused_total",
            "WebSocket upgrades refused before the upgrade, by reason",
            ["reason"],
            registry=r,
        )
        self.auth_failures = Counter(
            "haws_gateway_auth_failures_total",
            "Tokens refused (hello or refresh), by reason",
            ["reason"],
            registry=r,
        )
        self.compressed_connections = Gauge(
            "haws_gateway_compressed_connections",
            "Connections with permessage-deflate negotiated",
            registry=r,
        )
        self.canary_probes = Counter(
            "haws_gateway_canary_probes_total",
            "Backplane probes, by whether they came back within the bound",
            ["result"],
            registry=r,
        )
        self.canary_deaf = Counter(
            "haws_gateway_canary_deaf_total",
            "Episodes of backplane probes not back within the bound, by cause (cut,"
            " no_quorum, stream) and what the NATS connection reported then (up, down)",
            ["cause", "nats"],
            registry=r,
        )
        self.canary_ok = Gauge(
            "haws_gateway_canary_ok", "1 while the backplane probes come back", registry=r
        )
        self.loop_lag = Gauge(
            "haws_gateway_loop_lag_seconds",
            "How late the event loop's last probe timer fired (delivery.load)",
            registry=r,
        )
        self.writes_gathered = Gauge(
            "haws_gateway_writes_gathered",
            "1 while the node is behind and socket write passes wait to gather frames",
            registry=r,
        )
        # For leak checks (soak, fault tests): the process's RSS and fds, and its tasks.
        ProcessCollector(registry=r)
        self.asyncio_tasks = Gauge(
            "haws_gateway_asyncio_tasks", "asyncio tasks alive in the node's loop", registry=r
        )
        self.asyncio_tasks.set_function(_task_count)


def _task_count() -> float:
    """Read while ``/metrics`` is served, so from inside the running loop."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # no running loop (a scrape outside the node)
        return 0.0
