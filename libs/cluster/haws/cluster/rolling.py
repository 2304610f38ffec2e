"""Rolling restart of the gateways: one node out of the pool at a time, nobody loses a message.

The procedure, for each gateway in turn (the next one starts only when the pool is whole again):

1. **SIGTERM** the gateway. It deregisters from Consul first (HAProxy's DNS view
   drops it within the resolver hold, and its ``/ready`` turns 503 so HAProxy's
   own check marks it DOWN too), then sends every client ``reconnect``
   (``drain``) and closes it with 4000, spread over its ``--drain-period``. The
   clients resume on the other nodes with ``session`` and ``cursors``; nothing
   is lost because the messages live in JetStream, not in the node. The node
   exits within its ``--drain-timeout``; after ``stop_timeout`` it is SIGKILLed
   (clients then resume the same way, only less gently).
2. **Start** a new process with the same name, port and flags.
3. **Wait for ``/ready`` 200**: connected to NATS, stream reachable, registered
   in Consul.
4. **Wait for HAProxy** (when it runs) to have resolved that address and passed
   its own health check there, continuously for ``HAPROXY_SETTLE`` seconds, so
   new connections reach the node again before the next one leaves. An UP state
   HAProxy merely assumed at resolution (check status ``INI``) does not count.
   The settle time matters when the node was back before HAProxy noticed it
   gone (a node without clients restarts in under a second): the UP it shows
   may still be the old process's, and a DNS answer without the node may still
   be on hold. One check interval and one resolver hold (1 s each in the
   template) later, either HAProxy has flipped the state, and we wait on, or the
   UP is the new process's.

A gateway that does not come back within the deadline stops the procedure with
``RollingRestartFailed`` (the remaining gateways are left running untouched);
``abort`` ends any wait early with ``Aborted``. From ``haws up``: send it SIGUSR1
(``kill -USR1 $(cat <data-dir>/up.pid)``); progress goes to its stderr. From a
test: ``LocalCluster.rolling_restart(timeout)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from haws.cluster.deadline import wait_until
from haws.cluster.errors import Aborted, ClusterError, DeadlineExceeded, ProcessExited
from haws.cluster.haproxy import HAProxy
from haws.cluster.services import Gateway

Progress = Callable[[str], None]
HAPROXY_SETTLE = 1.2
"""Seconds HAProxy must show a restarted node UP without a break (see step 4)."""


class RollingRestartFailed(ClusterError):
    """A gateway did not come back; the procedure stopped there."""


@dataclass(frozen=True, slots=True)
class GatewayRestart:
    """What one step took: the drain and exit, the start to ``/ready``, HAProxy seeing it."""

    name: str
    old_pid: int | None
    new_pid: int | None
    exit_code: int | None
    stopped_after: float
    ready_after: float
    balanced_after: float

    def describe(self) -> str:
        code = "killed" if self.exit_code is None or self.exit_code < 0 else self.exit_code
        return (
            f"{self.name}: pid {self.old_pid} -> {self.new_pid}; exited ({code}) after "
            f"{self.stopped_after:.1f} s, ready after {self.ready_after:.1f} s, "
            f"in HAProxy after {self.balanced_after:.1f} s"
        )


def _steadily(predicate: Callable[[], bool], period: float) -> Callable[[], bool]:
    """A predicate that holds once ``predicate`` has held at every try for ``period`` s."""
    since: float | None = None

    def check() -> bool:
        nonlocal since
        now = time.monotonic()
        if not predicate():
            since = None
            return False
        if since is None:
            since = now
        return now - since >= period

    return check


def restart_gateway(
    gateway: Gateway,
    haproxy: HAProxy | None,
    *,
    stop_timeout: float,
    deadline: float,
    abort: Callable[[], bool] | None = None,
) -> GatewayRestart:
    """Steps 1 to 4 of the procedure for one gateway (``deadline`` on the monotonic clock)."""
    started = time.monotonic()
    old_pid = gateway.pid
    exit_code = gateway.stop(min(stop_timeout, max(deadline - started, 0.0)))
    stopped = time.monotonic()
    if abort is not None and abort():
        raise Aborted(f"stopped after {gateway.name} exited; not starting it again")
    gateway.spawn()
    try:
        gateway.wait_ready(max(deadline - time.monotonic(), 0.0), abort=abort)
    except (DeadlineExceeded, ProcessExited) as exc:
        raise RollingRestartFailed(f"{gateway.name} did not become ready again: {exc}") from None
    ready = time.monotonic()
    if haproxy is not None:
        try:
            wait_until(
                _steadily(lambda: haproxy.sees_up(gateway.port), HAPROXY_SETTLE),
                max(deadline - ready, 0.0),
                0.05,
                what=f"HAProxy sees {gateway.name} UP for {HAPROXY_SETTLE} s",
                abort=abort,
            )
        except DeadlineExceeded as exc:
            raise RollingRestartFailed(f"{exc}; HAProxy log {haproxy.log_path}") from None
    balanced = time.monotonic()
    return GatewayRestart(
        name=gateway.name,
        old_pid=old_pid,
        new_pid=gateway.pid,
        exit_code=exit_code,
        stopped_after=stopped - started,
        ready_after=ready - started,
        balanced_after=balanced - started,
    )


def rolling_restart(
    gateways: Sequence[Gateway],
    haproxy: HAProxy | None,
    *,
    timeout: float,
    stop_timeout: float,
    abort: Callable[[], bool] | None = None,
    progress: Progress | None = None,
) -> list[GatewayRestart]:
    """Restart every gateway in order under one overall deadline; see the module docstring."""
    say = progress or (lambda line: None)
    started = time.monotonic()
    deadline = started + timeout
    done: list[GatewayRestart] = []
    say(f"rolling restart of {len(gateways)} gateways")
    for i, gateway in enumerate(gateways, 1):
        say(f"[{i}/{len(gateways)}] {gateway.name}: SIGTERM pid {gateway.pid}, draining")
        step = restart_gateway(
            gateway, haproxy, stop_timeout=stop_timeout, deadline=deadline, abort=abort
        )
        say(f"[{i}/{len(gateways)}] {step.describe()}")
        done.append(step)
    say(f"rolling restart done in {time.monotonic() - started:.1f} s")
    return done
