"""The scenarios, one module each; ``SCENARIOS`` lists them in run order.

Each module has ``NAME`` and ``run(lab) -> list[Figure]``: it starts what it
measures through the ``Lab``, runs the load, and reports figures, never
pass/fail.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.figures import Figure
from bench.lab import Lab
from bench.scenarios import (
    api,
    capacity,
    cluster,
    costs,
    failover,
    fanout,
    interest,
    latency,
    presence,
    replay,
    storm,
)

Scenario = Callable[[Lab], list[Figure]]

SCENARIOS: dict[str, Scenario] = {
    fanout.NAME: fanout.run,
    latency.NAME: latency.run,
    capacity.NAME: capacity.run,
    storm.NAME: storm.run,
    failover.NAME: failover.run,
    replay.NAME: replay.run,
    cluster.NAME: cluster.run,
    interest.NAME: interest.run,
    costs.NAME: costs.run,
    presence.NAME: presence.run,
    api.NAME: api.run,
}
