"""What a scenario reports: one ``Figure`` per (scenario, metric, system).

A figure is a *subject* (haws, in some variant) or a *baseline* it is compared
with; the table pairs every subject with every baseline of the same scenario
and metric and prints the ratio subject/baseline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["subject", "baseline"]
NO_PRESENCE = "-nopresence"
"""Suffix of a haws system run without the presence service (plain ``haws`` runs
it, as ``haws up`` and compose do)."""
Better = Literal["higher", "lower"]


@dataclass
class Figure:
    scenario: str
    """e.g. ``fanout-1000``: the scenario and its size."""
    metric: str
    system: str
    value: float | None
    unit: str
    better: Better = "higher"
    role: Role = "subject"
    skipped: str | None = None
    """Why there is no value (missing package, failed start)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Context: lost, duplicates, CPU shares, bottleneck, rates."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def skipped(
    scenario: str, metric: str, system: str, unit: str, reason: str, *, role: Role, better: Better
) -> Figure:
    return Figure(scenario, metric, system, None, unit, better, role, skipped=reason)


def why(exc: BaseException) -> str:
    """The reason a figure is missing: a skip says why itself; anything else is
    a failure of that one measurement, named, so the run goes on."""
    text = str(exc)
    if type(exc).__name__ in ("Skipped", "SetupFailed", "TooFewConnections", "ProfilerMissing"):
        return text
    return f"failed: {type(exc).__name__}" + (f": {text}" if text else "")


def role_of(system: str) -> Role:
    return "subject" if system.startswith("haws") else "baseline"
