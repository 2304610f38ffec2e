"""The figures a compose run prints: one ``COMPOSE <scenario> k=v ...`` line each, plus JSON.

The JSON lands in run/compose/results/ so CI logs and the notes can quote it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.compose.topology import IMAGES_DIR

RESULTS = IMAGES_DIR / "results"


def report(scenario: str, **fields: Any) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{scenario}.json"
    path.write_text(json.dumps({"scenario": scenario, **fields}, indent=2, default=str))
    flat = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in fields.items())
    print(f"\nCOMPOSE {scenario} {flat}")
    return path
