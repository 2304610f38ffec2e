"""The systems under test: haws and the baselines, each started as real processes.

A scenario asks the ``Lab`` for a system by name and gets a ``Running``: the
WebSocket base URLs, the dialect to speak, and the pids whose CPU and memory
count as the server's. A system that cannot run here raises ``Skipped`` with
the reason, which the table prints instead of a figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.loadgen.dialects import Dialect


class Skipped(Exception):
    """This system (or scenario) cannot run here; the message says why."""


@dataclass
class Running:
    name: str
    dialect: Dialect
    urls: list[str]
    """Base URLs (``ws://127.0.0.1:PORT``), one per node; the dialect adds the path."""
    rss_pid: int
    """The process serving the WebSockets: its RSS is the per-connection memory."""
    server_pids: Callable[[], list[int]]
    """Every process on the server core (broker and registry included for haws)."""
    notes: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.urls[0]
