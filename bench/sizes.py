"""How big each scenario runs: the full run (the issue's numbers) and ``--quick``.

The full run uses the sizes the targets are stated at (1,000 subscribers,
20,000 deliveries/s, 5,000 idle connections, 100,000 messages behind) and fits
in about ten minutes (more since issue 14 ran every haws scenario with presence
on and off); ``--quick`` checks the harness end to end in one or two, ``TINY``
(``--size tiny``) in seconds per scenario.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sizes:
    name: str = "full"
    warmup: float = 2.0
    """Seconds of load before a measurement window opens."""
    window: float = 8.0
    """Seconds a throughput or latency window lasts."""
    fanout_subscribers: tuple[int, ...] = (100, 1000)
    flow_window: int = 256
    """Messages per subscriber between publish and arrival (see ``Flow``)."""
    max_messages: int = 2_000_000
    """Bound on pubs of any one run, whatever the time."""
    latency_deliveries: int = 20_000
    """Deliveries per second of the latency scenario (publish rate x subscribers)."""
    latency_subscribers: tuple[int, ...] = (1000,)
    capacity_connections: int = 5000
    failover_clients: tuple[int, ...] = (1000, 2500)
    """Clients spread over ``failover_gateways``; the first gateway is killed and its
    clients resume spread over the others."""
    failover_gateways: int = 3
    failover_rate: float = 50.0
    """Messages per second during failover (x clients = deliveries per second)."""
    failover_warmup: float = 5.0
    """Seconds the clients stream on gateway A before it is killed."""
    failover_after_kill: float = 8.0
    replay_messages: int = 100_000
    cluster_subscribers: int = 600
    cluster_topics: int = 3
    cluster_gateways: int = 3
    connect_concurrency: int = 64
    """Handshakes in flight at once (the servers' listen backlog is 128)."""
    storm_clients: tuple[int, ...] = (1000, 5000)
    """Clients of the connect storm: each connects, says hello and subscribes."""
    storm_concurrency: int = 100
    """Handshakes in flight during the storm (issue 14 measured at 100)."""
    interest_gateways: tuple[int, ...] = (1, 2, 4, 8)
    """Gateways of the interest scenario, each with its own topic."""
    interest_subscribers: int = 20
    """Subscribers per gateway (on that gateway's topic only)."""
    interest_rate: float = 200.0
    """Messages per second published on each gateway's topic."""
    drain_timeout: float = 10.0
    """Seconds to wait, after the last pub, for every subscriber to catch up."""
    quiet_wait: float = 30.0
    """Seconds to wait, before starting a system, for other work on the machine to
    calm down (figures taken beside other load are flagged NOISY in the table)."""
    quiet_budget: float = 120.0
    """Total seconds one run may spend waiting for quiet."""


FULL = Sizes()

QUICK = Sizes(
    name="quick",
    warmup=0.5,
    window=2.0,
    fanout_subscribers=(100,),
    latency_deliveries=5000,
    latency_subscribers=(100,),
    capacity_connections=500,
    failover_clients=(100, 250),
    failover_warmup=1.5,
    failover_after_kill=4.0,
    replay_messages=10_000,
    cluster_subscribers=60,
    storm_clients=(200, 500),
    interest_gateways=(1, 2, 3),
    drain_timeout=5.0,
    quiet_wait=3.0,
    quiet_budget=10.0,
)

TINY = Sizes(
    name="tiny",
    warmup=0.3,
    window=1.0,
    fanout_subscribers=(20,),
    latency_deliveries=1000,
    latency_subscribers=(20,),
    capacity_connections=100,
    failover_clients=(15, 30),
    failover_rate=20.0,
    failover_warmup=1.0,
    failover_after_kill=3.0,
    replay_messages=2000,
    cluster_subscribers=15,
    storm_clients=(50, 100),
    interest_gateways=(1, 2),
    interest_subscribers=5,
    interest_rate=50.0,
    drain_timeout=5.0,
    quiet_wait=1.0,
    quiet_budget=3.0,
)
"""Seconds per scenario: proves each runs end to end, figures are noise."""
