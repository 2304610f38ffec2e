"""Slopes of a soak's time series, per minute, by least squares.

A gateway's RSS, fds and tasks start again from nothing at every restart, and
the clients a restart moves land on the other gateways, so one slope over the
sum of all gateways measures the restarts, not a leak. ``within_lifetimes``
fits one slope over many process lifetimes at once (each lifetime's own level
taken out, the "fixed effects" slope), and takes out what the connections a
process holds explain: growth that remains at a constant number of connections
is what a leak per closed connection, subscription or publish would leave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[float, float]
"""``(seconds, value)``."""


@dataclass(frozen=True, slots=True)
class Observation:
    at: float
    """Seconds since the soak's start."""
    value: float
    connections: float
    """Connections the process held when ``value`` was read."""


@dataclass(frozen=True, slots=True)
class Fit:
    per_minute: float
    """Growth per minute at a constant number of connections."""
    per_connection: float
    """What one more held connection adds (0 where connections did not vary)."""
    minutes: float
    """Time covered, summed over the lifetimes that took part."""
    samples: int


def slope_per_minute(points: Sequence[Point]) -> float:
    """Least-squares slope of ``(seconds, value)`` points, per minute."""
    if len(points) < 3:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 60.0


def within_lifetimes(lifetimes: Sequence[Sequence[Observation]]) -> Fit:
    """``value = level(lifetime) + per_connection * connections + slope * t``, pooled.

    Lifetimes with fewer than 3 observations are left out (no slope in them).
    Where the connections are (nearly) collinear with time, the slope alone is
    fitted, connections ignored: the fit would be ill-posed otherwise.
    """
    stt = stx = sxx = sty = sxy = 0.0
    minutes = 0.0
    samples = 0
    for obs in lifetimes:
        if len(obs) < 3:
            continue
        n = len(obs)
        mt = sum(o.at for o in obs) / n
        mx = sum(o.connections for o in obs) / n
        my = sum(o.value for o in obs) / n
        for o in obs:
            dt, dx, dy = o.at - mt, o.connections - mx, o.value - my
            stt += dt * dt
            stx += dt * dx
            sxx += dx * dx
            sty += dt * dy
            sxy += dx * dy
        minutes += (obs[-1].at - obs[0].at) / 60
        samples += n
    if stt == 0:
        return Fit(0.0, 0.0, minutes, samples)
    det = stt * sxx - stx * stx
    if sxx == 0 or det <= 1e-9 * stt * sxx:
        return Fit(sty / stt * 60.0, 0.0, minutes, samples)
    slope = (sty * sxx - sxy * stx) / det
    per_connection = (sxy * stt - sty * stx) / det
    return Fit(slope * 60.0, per_connection, minutes, samples)
