"""Sampling a server under load with py-spy, summarised as hot spots with file:line.

``Recording`` starts ``py-spy record`` on a pid once the warm-up is over, for
the measurement window, without pausing the target (``--nonblocking``). The
collapsed stacks are reduced to the frames that were on CPU themselves (self
time, by file:line) and those that were on the stack (inclusive, by function).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

RATE = 250
TOP = 25
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*):(?P<line>\d+)\)$")


class ProfilerMissing(Exception):
    """py-spy is not installed (``pip install py-spy``)."""


def py_spy() -> str:
    found = shutil.which("py-spy")
    if found is None:
        beside = Path(sys.executable).parent / "py-spy"
        if beside.is_file():
            return str(beside)
        raise ProfilerMissing("py-spy is not installed (pip install py-spy)")
    return found


class Recording:
    def __init__(self, pid: int, out: Path) -> None:
        self.binary = py_spy()
        self.pid = pid
        self.folded = out.with_suffix(".folded")
        self.log = out.with_suffix(".log")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, delay: float, duration: float) -> None:
        """Begin sampling ``delay`` seconds from now, for ``duration`` seconds."""
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self._spawn, duration)

    def _spawn(self, duration: float) -> None:
        argv = [self.binary, "record", "--pid", str(self.pid), "--rate", str(RATE)]
        argv += ["--duration", str(max(1, round(duration))), "--format", "raw"]
        argv += ["--output", str(self.folded), "--nonblocking"]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def finish(self, timeout: float = 30.0, *, stop: bool = False) -> dict[str, Any]:
        """Wait for py-spy (``stop``: ask it to stop now; it still writes what it has)."""
        if self._process is None:
            return {"skipped": "py-spy never started"}
        if stop and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)
        if not self.folded.is_file():
            return {
                "skipped": f"py-spy wrote nothing: {self.log.read_text(errors='replace')[-300:]}"
            }
        return summarize(self.folded.read_text().splitlines())


def _short(path: str) -> str:
    """Paths from the repository or site-packages, not the machine's."""
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        i = path.find(marker)
        if i >= 0:
            return path[i + len(marker) :]
    return path


def summarize(lines: list[str], top: int = TOP) -> dict[str, Any]:
    """Self time by ``file:line`` and inclusive time by function, in % of samples."""
    own: Counter[str] = Counter()
    own_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_FRAME.match(f) for f in stack.split(";")]
        parsed = [(m["func"], _short(m["file"]), m["line"]) for m in frames if m is not None]
        if not parsed:
            continue
        func, file, lineno = parsed[-1]
        own[f"{func} ({file}:{lineno})"] += n
        own_function[f"{func} ({file})"] += n
        for name in {f"{f} ({p})" for f, p, _ in parsed}:
            inclusive[name] += n

    def share(counter: Counter[str], skip_roots: bool = False) -> list[dict[str, Any]]:
        ranked = counter.most_common()
        if skip_roots and ranked:
            # The process's entry frames (runpy, main, the event loop's run) sit
            # under every sample alike and say nothing: leave them out.
            root = ranked[0][1]
            ranked = [(where, n) for where, n in ranked if n < root]
        return [
            {"where": where, "percent": round(100.0 * n / total, 1)} for where, n in ranked[:top]
        ]

    return {
        "samples": total,
        "rate_hz": RATE,
        "self_by_line": share(own) if total else [],
        "self_by_function": share(own_function) if total else [],
        "inclusive_by_function": share(inclusive, skip_roots=True) if total else [],
    }
