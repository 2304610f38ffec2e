"""Scenario sizes: a short run for ``make test``, a long one for ``make chaos``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

LONG_TIMEOUT = 900


def short_and_long(short: Any, long: Any) -> list[Any]:
    """``parametrize`` values: ``short`` always, ``long`` only under ``-m chaos``."""
    return [
        pytest.param(short, id="short"),
        pytest.param(long, id="long", marks=[pytest.mark.chaos, pytest.mark.timeout(LONG_TIMEOUT)]),
    ]


@dataclass(frozen=True)
class FleetSize:
    """Subscribers, messages of the steady stream, and its rate (messages/s)."""

    clients: int
    messages: int
    rate: float

    def __str__(self) -> str:
        return f"{self.clients}c-{self.messages}m"
