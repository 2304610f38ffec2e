"""A baseline server as one child process, ready when its ``/health`` answers.

Started through ``haws.cluster.ManagedProcess``, so it dies with the harness
even when the harness is killed, and logs to a file in the run's folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.systems import Skipped
from haws.cluster import DeadlineExceeded, ManagedProcess, ProcessExited, free_port
from haws.cluster.probe import http_ok


class ServerProcess:
    """``argv`` with ``{port}`` filled in; ``start`` waits for ``GET /health``."""

    def __init__(self, name: str, argv: Sequence[str], log_dir: Path, *, cwd: Path | None = None):
        self.port = free_port()
        self.name = name
        argv = [part.format(port=self.port) for part in argv]
        self.process = ManagedProcess(name, argv, log_dir / f"{name}.log", cwd=cwd)

    @property
    def pid(self) -> int:
        pid = self.process.pid
        if pid is None:
            raise Skipped(f"{self.name} is not running")
        return pid

    @property
    def base_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.process.start()
        try:
            self.process.wait_ready(
                lambda: http_ok(f"http://127.0.0.1:{self.port}/health"), timeout
            )
        except (DeadlineExceeded, ProcessExited) as exc:
            self.process.kill()
            raise Skipped(f"{self.name} did not start: {str(exc).splitlines()[0]}") from None

    def stop(self) -> None:
        self.process.stop(timeout=3.0)
