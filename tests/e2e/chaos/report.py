"""One line per scenario on stdout (``pytest -s`` shows it) and the same as JSON in tmp."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def timings(values: Sequence[float]) -> dict[str, Any]:
    """Count, p50, p99 and max of durations in seconds, rounded to the millisecond."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "n": len(values),
        "p50": ms(percentile(values, 50)),
        "p99": ms(percentile(values, 99)),
        "max": ms(max(values, default=None)),
    }


def emit(directory: Path, scenario: str, *, kind: str = "CHAOS", **fields: Any) -> Path:
    """Print ``<kind> <scenario> k=v ...`` and write ``<directory>/<scenario>.json``."""
    path = directory / f"{scenario}.json"
    path.write_text(json.dumps({"scenario": scenario, **fields}, indent=2, default=str))
    flat = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in fields.items())
    print(f"\n{kind} {scenario} {flat} json={path}")
    return path
