"""The shape every local component shares: spawn, wait until ready, stop, restart.

A component knows its command line and its readiness condition; everything about
the process (logs, signals, deadlines) is ``ManagedProcess``'s. ``spawn`` and
``wait_ready`` are separate so a launcher can start several components at once
and then wait for all of them (a NATS cluster elects a leader only when its
members are up together; gateways start in parallel).
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from haws.cluster.deadline import wait_until
from haws.cluster.errors import BinaryNotFound, ClusterError, DeadlineExceeded
from haws.cluster.netns import exec_argv
from haws.cluster.process import ManagedProcess

RUN_DIR_ENV = "HAWS_CLUSTER_DIR"
"""Set in every child's environment: lets a test find every process of one run."""


def find_binary(name: str, explicit: str | None = None) -> str:
    """``explicit`` if given, else ``name`` on PATH; a clear error when missing."""
    found = explicit or shutil.which(name)
    if not found:
        raise BinaryNotFound(f"{name} not found on PATH; run `make install-system`")
    return found


class Component(ABC):
    """One child process of the local cluster with its own log and data folder.

    Files: the log at ``<data_dir>/logs/<name>.log``, data under ``<data_dir>/<name>/``.
    """

    def __init__(self, name: str, data_dir: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.data_dir = Path(data_dir).resolve()
        self.extra_env = dict(env or {})
        self.process = ManagedProcess(name, [], self.data_dir / "logs" / f"{name}.log")
        self.netns: str | None = None
        """The network namespace the child runs in (``None``: ours), see ``network``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, pid={self.pid}, alive={self.alive})"

    @property
    def home(self) -> Path:
        """This component's own data folder."""
        return self.data_dir / self.name

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    @abstractmethod
    def argv(self) -> list[str]:
        """The command line of the child."""

    @abstractmethod
    def ready(self) -> bool:
        """One cheap, non-raising probe: True once the component serves."""

    def prepare(self) -> None:
        """Create folders and files the child needs; runs before every spawn."""
        self.home.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        env[RUN_DIR_ENV] = str(self.data_dir)
        return env

    def spawn(self) -> None:
        """Start the child without waiting for it to be ready."""
        if self.process.alive:
            raise ClusterError(f"{self.name} is already running (pid {self.pid})")
        self.prepare()
        self.process.argv = exec_argv(self.netns, self.argv())
        self.process.env = self.env()
        self.process.start()

    def wait_ready(self, timeout: float = 30.0, *, abort: Callable[[], bool] | None = None) -> None:
        self.process.wait_ready(self.ready, timeout, abort=abort)

    def start(self, timeout: float = 30.0) -> Self:
        """Spawn and wait until ready; on failure the child is killed, not left behind."""
        self.spawn()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, SIGKILL after ``timeout``; returns the exit status."""
        return self.process.stop(timeout)

    def kill(self) -> None:
        self.process.kill()

    def pause(self) -> None:
        self.process.pause()

    def resume(self) -> None:
        self.process.resume()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.alive

    def describe(self) -> dict[str, Any]:
        """What ``haws up --json`` prints about this component."""
        return {"pid": self.pid}

    def __enter__(self) -> Self:
        if not self.alive:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_ready_all(
    components: Iterable[Component],
    timeout: float,
    *,
    abort: Callable[[], bool] | None = None,
) -> None:
    """Wait under one deadline until every component is ready (they start in parallel).

    Fails fast with the log tail of the first one that died, or names the ones
    still not ready when the deadline passes.
    """
    pending = list(components)

    def all_ready() -> bool:
        for component in list(pending):
            component.process.ensure_alive()
            if component.ready():
                pending.remove(component)
        return not pending

    try:
        wait_until(all_ready, timeout, 0.05, what="components ready", abort=abort)
    except DeadlineExceeded:
        names = ", ".join(c.name for c in pending)
        tails = "\n".join(f"--- {c.log_path}:\n{c.process.log_tail(15)}" for c in pending)
        raise DeadlineExceeded(f"not ready within {timeout:.1f} s: {names}\n{tails}") from None
