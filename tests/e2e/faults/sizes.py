"""Scenario sizes: ``short`` (``make test`` for the deaf gateway, ``make faults`` for
the rest) and ``long`` (``make faults``)."""

from __future__ import annotations

from typing import Any

import pytest

LONG_TIMEOUT = 900
ACK_WAIT = 120.0
"""Seconds a scenario waits for a share of its stream to be acked: paced publishing
falls behind on a loaded 2-core machine, and that is not the fault under test."""
FAULTS = pytest.mark.faults


def sizes(short: Any, long: Any, *, short_in_suite: bool = False) -> list[Any]:
    """``parametrize`` values; only a ``short_in_suite`` short run is part of ``make test``."""
    short_marks = (
        [pytest.mark.timeout(300)] if short_in_suite else [FAULTS, pytest.mark.timeout(300)]
    )
    return [
        pytest.param(short, id="short", marks=short_marks),
        pytest.param(long, id="long", marks=[FAULTS, pytest.mark.timeout(LONG_TIMEOUT)]),
    ]
