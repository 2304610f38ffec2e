"""Network namespaces from Python: run a child in one, or move this thread into one.

A child gets its namespace from ``ip netns exec <ns>``, which enters it and
execs the command in the same process (so the pid, the process group and the
parent-death signal of ``process.spawn`` stay what they were). This process's
own sockets follow the thread that creates them: Linux keeps the network
namespace per thread, so ``entered(ns)`` moves only the calling thread (the
event loop's, for the test's clients; a worker's, for a blocking readiness
probe) and moves it back afterwards.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ParamSpec, TypeVar

from haws.cluster.errors import ClusterError

NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

P = ParamSpec("P")
R = TypeVar("R")


def exec_argv(netns: str | None, argv: Sequence[str]) -> list[str]:
    """``argv`` as run inside ``netns`` (unchanged for ``None``)."""
    return list(argv) if netns is None else ["ip", "netns", "exec", netns, *argv]


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    """Run ``ip [-n netns] args``; its stdout. Raises ``ClusterError`` with stderr."""
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    if check and done.returncode != 0:
        raise ClusterError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def run_in(netns: str, argv: Sequence[str], *, check: bool = True) -> str:
    """Run a short command inside ``netns`` and wait for it (iptables and friends)."""
    full = exec_argv(netns, argv)
    done = subprocess.run(full, capture_output=True, text=True, timeout=10, check=False)
    if check and done.returncode != 0:
        raise ClusterError(f"{' '.join(full)}: {done.stderr.strip()}")
    return done.stdout


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise ClusterError(f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def entered(netns: str) -> Iterator[None]:
    """The calling thread in ``netns`` until the block ends (also on error)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(NETNS_DIR / netns, os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


def call_in(netns: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` with the calling thread in ``netns`` (for ``to_thread``)."""
    with entered(netns):
        return fn(*args, **kwargs)


def namespaces() -> list[str]:
    """Names of the namespaces ``ip netns`` knows."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []
