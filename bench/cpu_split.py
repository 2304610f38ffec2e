"""Server CPU of one measurement, split by process: what each part of the work costs.

The capacity model of issue 14 wants the cost of a hello (or a resume) per part
(gateway, presence, nats-server...), not only the servers' sum the table shows.
``CpuSplit`` reads each process's CPU seconds at the start and at the end of a
window and reports microseconds per unit of work (a connection, a resumed client)
by a name for each process.
"""

from __future__ import annotations

from collections.abc import Mapping

from bench.usage import cpu_seconds

KNOWN = ("presence", "replay", "gateway")
"""Words of a command line that name a haws service."""


class CpuSplit:
    def __init__(self, pids: list[int], names: Mapping[int, str] | None = None) -> None:
        self._names = {pid: (names or {}).get(pid) or process_name(pid) for pid in pids}
        self._before = {pid: cpu_seconds(pid) for pid in pids}
        self._after: dict[int, float] | None = None

    def stop(self) -> None:
        """The end of the window (a process gone by then counts what it used before)."""
        self._after = {pid: cpu_seconds(pid) for pid in self._before}

    def per_unit(self, units: int) -> dict[str, float]:
        """CPU microseconds per unit of work, by process name, and their total."""
        after = self._after if self._after is not None else {}
        out: dict[str, float] = {}
        for pid, was in self._before.items():
            name = self._names[pid]
            used = max(0.0, after.get(pid, was) - was)
            out[name] = round(out.get(name, 0.0) + used * 1e6 / max(1, units), 1)
        out["total"] = round(sum(out.values()), 1)
        return out


def process_name(pid: int) -> str:
    """What the process is: its command line's telling word (presence, nats-server...)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return str(pid)
    words = [a.decode(errors="replace").rsplit("/", 1)[-1] for a in argv if a]
    for word in words:
        if word in KNOWN or word.startswith(("nats-server", "consul")):
            return word
    return words[0] if words else str(pid)
