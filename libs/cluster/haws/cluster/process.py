"""One child process: started detached from the terminal, tied to our life, logged to a file.

Two kernel facilities make the children safe to leave running in tests and in
``haws up``:

* ``start_new_session=True`` puts each child in its own process group, so a
  Ctrl-C on the terminal reaches only the parent, which then stops the children
  in order (gateways first, so they drain while NATS is still there).
* ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` in the child makes the kernel kill it when
  its parent dies, even by SIGKILL. Linux ties this to the *thread* that forked,
  so every child is forked from one spawner thread that lives as long as the
  process: callers may start children from any thread (``asyncio.to_thread``
  included) without the child dying when that worker thread ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from haws.cluster.deadline import wait_until
from haws.cluster.errors import ClusterError, DeadlineExceeded, ProcessExited

_PR_SET_PDEATHSIG = 1
# Loaded once in the parent: the child between fork and exec must not dlopen.
_LIBC = (
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform == "linux" else None
)


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child die with us, even if we are SIGKILLed.

    The child also exits at once if we died between fork and ``prctl`` (no
    signal would come then). Use it through ``spawn``, which forks from a thread
    that lives as long as we do.
    """
    parent_pid = os.getpid()

    def setup() -> None:
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return setup


_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def spawn(argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen`` forked from the long-lived spawner thread, tied to our life."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="haws-spawner")

    def fork() -> subprocess.Popen[Any]:
        return subprocess.Popen(
            list(argv), start_new_session=True, preexec_fn=die_with_parent(), **popen_kwargs
        )

    return _spawner.submit(fork).result()


class ManagedProcess:
    """A child started from ``argv`` whose stdout and stderr append to ``log_path``.

    ``start`` may be called again after the process ended (a restart keeps the
    same log file, so a test can read what happened across both lives).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.pid}, alive={self.alive})"

    def start(self) -> None:
        if self.alive:
            raise ClusterError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- start {time.strftime('%H:%M:%S')}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self._popen = spawn(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
            )

    @property
    def pid(self) -> int | None:
        """The pid of the latest start, also after it ended; None before any start."""
        return self._popen.pid if self._popen is not None else None

    @property
    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: killed by that signal); None while running."""
        return self._popen.poll() if self._popen is not None else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def ensure_alive(self) -> None:
        """Raise ``ProcessExited`` with the log tail unless the child runs."""
        if not self.alive:
            raise ProcessExited(
                f"{self.name} exited with {self.returncode}; "
                f"log {self.log_path}:\n{self.log_tail()}"
            )

    def wait_ready(
        self,
        predicate: Callable[[], bool],
        timeout: float,
        *,
        abort: Callable[[], bool] | None = None,
    ) -> None:
        """Poll ``predicate`` until it holds; fail fast, with the log tail, if we die."""

        def ready_or_dead() -> bool:
            self.ensure_alive()
            return predicate()

        try:
            wait_until(ready_or_dead, timeout, 0.05, what=f"{self.name} ready", abort=abort)
        except DeadlineExceeded as exc:
            raise DeadlineExceeded(f"{exc}; log {self.log_path}:\n{self.log_tail()}") from None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the child's process group, if it still runs."""
        if self.alive and self._popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signum)

    def wait(self, timeout: float) -> int | None:
        """The exit status, or None if still running after ``timeout`` seconds."""
        if self._popen is None:
            return None
        try:
            return self._popen.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds."""
        stop_all([self], timeout)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL and reap, so no zombie stays behind."""
        self.signal(signal.SIGKILL)
        self.wait(5.0)

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)


def stop_all(processes: Iterable[ManagedProcess], timeout: float) -> None:
    """SIGTERM every process at once, wait under one deadline, SIGKILL the rest."""
    running = [p for p in processes if p.alive]
    for process in running:
        process.resume()  # a paused process cannot act on SIGTERM
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in running:
        if process.wait(deadline - time.monotonic()) is None:
            process.kill()
