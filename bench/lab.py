"""Where a bench run happens: one data folder, the shared haws infra, one event loop.

Scenarios ask the ``Lab`` for a system by name (``with lab.system("haws") as
target``) and run their coroutines with ``lab.run``. Servers are started fresh
for each scenario and pinned to the server core; the load generator is this
process, pinned to the other core, on one uvloop loop for the whole run.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench.figures import NO_PRESENCE
from bench.loadgen.dialects import Dialect, MsgpackDialect, SocketIoDialect
from bench.machine import Machine
from bench.sizes import Sizes
from bench.systems import Running, Skipped
from bench.systems.baselines import node_socketio, python_socketio, raw_aiohttp
from bench.systems.haws import HawsInfra, HawsStack
from bench.systems.process import ServerProcess
from bench.usage import machine_busy

T = TypeVar("T")

QUIET = 0.25
"""Busy cores (whole machine, ours idle) under which the machine counts as quiet."""

HAWS_DIALECTS: dict[str, Dialect] = {
    "haws": Dialect(),
    "haws" + NO_PRESENCE: Dialect(),
    "haws-batch": Dialect(batch=True),
    "haws-msgpack": MsgpackDialect(),
}
BASELINE_DIALECTS: dict[str, Dialect] = {
    "raw-aiohttp": Dialect(),
    "python-socketio": SocketIoDialect(),
    "node-socketio": SocketIoDialect(),
}
SYSTEMS = (*HAWS_DIALECTS, *BASELINE_DIALECTS)
PRESENCE_MODES = ("both", "on", "off")


def with_presence(system: str) -> bool:
    return not system.endswith(NO_PRESENCE)


def haws_variants(base: str = "haws") -> list[tuple[str, bool]]:
    """``(system name, presence on)`` for scenarios that build their own stacks."""
    return [(base, True), (base + NO_PRESENCE, False)]


@dataclass
class Options:
    sizes: Sizes
    only: Sequence[str] = ()
    systems: Sequence[str] = ()
    """Empty: every system."""
    gateway_args: Sequence[str] = ()
    profile: bool = False
    keep_dir: bool = False
    presence: str = "both"
    """Which haws configurations run: ``both`` (side by side), ``on`` or ``off``."""


@dataclass
class Profile:
    """A py-spy profile of a server during one scenario."""

    scenario: str
    system: str
    summary: dict[str, Any] = field(default_factory=dict)


class Lab:
    def __init__(self, options: Options, machine: Machine) -> None:
        self.options = options
        self.sizes = options.sizes
        self.machine = machine
        self.data_dir = Path(tempfile.mkdtemp(prefix="haws-bench-"))
        self.log_dir = self.data_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.profiles: list[Profile] = []
        self._infra: HawsInfra | None = None
        self._infra_failure: str | None = None
        self._runner = asyncio.Runner(loop_factory=_loop_factory())
        self.quiet_waited = 0.0

    def wait_quiet(self) -> None:
        """Wait, bounded by ``quiet_wait`` and what is left of ``quiet_budget``,
        until the machine's busy CPU (other sessions, builds) drops under ``QUIET``."""
        budget = min(self.sizes.quiet_wait, self.sizes.quiet_budget - self.quiet_waited)
        started = time.monotonic()
        while True:
            before = machine_busy()
            time.sleep(0.5)
            busy = (machine_busy() - before) / 0.5
            waited = time.monotonic() - started
            if busy < QUIET or waited >= budget:
                break
        if waited > 0.6:
            self.quiet_waited += waited
            print(f"    (waited {waited:.0f} s for the machine to calm down)", flush=True)

    def wants(self, system: str) -> bool:
        if system.startswith("haws"):
            mode = self.options.presence
            if (mode == "on" and not with_presence(system)) or (
                mode == "off" and with_presence(system)
            ):
                return False
            if not self.options.systems:
                return True
            # ``--system haws`` names the system; its presence-off twin comes with it.
            base = system.removesuffix(NO_PRESENCE)
            return system in self.options.systems or base in self.options.systems
        return not self.options.systems or system in self.options.systems

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a load-generator coroutine on the lab's event loop."""
        return self._runner.run(coro)

    def infra(self) -> HawsInfra:
        if self._infra_failure is not None:
            raise Skipped(self._infra_failure)
        if self._infra is None:
            try:
                infra = HawsInfra(self.data_dir, self.machine)
                infra.start()
            except Skipped as exc:
                self._infra_failure = str(exc)
                raise
            self._infra = infra
        return self._infra

    @contextlib.contextmanager
    def haws(
        self, *, gateways: int = 1, replay: bool = False, presence: bool = True
    ) -> Iterator[HawsStack]:
        """Fresh gateways (and replay, and a presence replica) on the shared NATS and Consul."""
        stack = HawsStack(
            self.infra(),
            gateways=gateways,
            replay=replay,
            presence=presence,
            extra_args=self.options.gateway_args,
        )
        self.wait_quiet()
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()

    @contextlib.contextmanager
    def system(self, name: str) -> Iterator[Running]:
        """Start ``name`` (one node) and stop it afterwards; ``Skipped`` if it cannot run."""
        if name in HAWS_DIALECTS:
            with self.haws(presence=with_presence(name)) as stack:
                yield stack.running(name, HAWS_DIALECTS[name])
            return
        factories = {
            "raw-aiohttp": raw_aiohttp,
            "python-socketio": python_socketio,
            "node-socketio": node_socketio,
        }
        server: ServerProcess = factories[name](self.log_dir)
        self.wait_quiet()
        server.start()
        try:
            self.machine.pin_server(server.pid)
            pid = server.pid
            yield Running(
                name=name,
                dialect=BASELINE_DIALECTS[name],
                urls=[server.base_url],
                rss_pid=pid,
                server_pids=lambda: [pid],
            )
        finally:
            server.stop()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._runner.close()
        if self._infra is not None:
            self._infra.stop()
        if not self.options.keep_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _loop_factory() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
