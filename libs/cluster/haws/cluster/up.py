"""``haws up``: run the local cluster in the foreground until SIGINT or SIGTERM.

Output contract: with ``--json`` stdout carries exactly one JSON line (the
cluster's addresses and pids, and ``pid`` of ``haws up`` itself) once everything
is ready, and every other word goes to stderr; without it a summary for humans
goes to stdout. The first SIGINT/SIGTERM stops the parts in reverse order and
exits 0; a second one kills them at once. Children die with this process even
if it is SIGKILLed.

Control while running: SIGUSR1 asks for a rolling restart of the gateways
(``kill -USR1 $(cat <data-dir>/up.pid)``); see ``haws.cluster.rolling`` for the
procedure. Progress goes to stderr, ending with "rolling restart done" or
"rolling restart failed". Requests that arrive during a restart are served by
one more restart after it; requests during start-up are ignored. The pid file
exists while ``haws up`` is ready to take requests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from haws.cluster.errors import Aborted, ClusterError
from haws.cluster.local import ClusterSpec, LocalCluster
from haws.common.tokens import make_dev_token

log = logging.getLogger("haws.up")
WATCH_INTERVAL = 0.1
PID_FILE = "up.pid"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haws up", description="Run a local haws cluster on free loopback ports."
    )
    parser.add_argument(
        "--nats",
        type=int,
        default=1,
        metavar="N",
        help="NATS servers; 3 forms a cluster with stream replicas 3 (default 1)",
    )
    parser.add_argument(
        "--gateways", type=int, default=2, metavar="N", help="gateway nodes (default 2)"
    )
    parser.add_argument(
        "--presence",
        type=int,
        default=2,
        metavar="N",
        help="presence service replicas (default 2)",
    )
    parser.add_argument(
        "--replay",
        type=int,
        default=2,
        metavar="N",
        help="replay service replicas (default 2)",
    )
    parser.add_argument(
        "--no-haproxy",
        dest="haproxy",
        action="store_false",
        help="do not start HAProxy even when it is installed",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("run"),
        help="folder for every part's data and logs (default ./run)",
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep what an earlier run left in the data folder"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON line with addresses and pids on stdout"
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds for everything to become ready (default 60)",
    )
    parser.add_argument(
        "--auth",
        choices=("anonymous", "jwt"),
        default="anonymous",
        help="jwt: gateways require hello.token; a dev secret is made and a token printed",
    )
    parser.add_argument(
        "--restart-timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="seconds a rolling restart (SIGUSR1) may take in all (default 120)",
    )
    parser.epilog = (
        "While it runs, SIGUSR1 restarts the gateways one at a time (drain, start, "
        "ready, back in HAProxy): kill -USR1 $(cat DATA_DIR/up.pid)"
    )
    return parser


class Signals:
    """Records SIGINT/SIGTERM/SIGHUP (stop) and SIGUSR1 (rolling restart); the main loop polls.

    The handlers only append to lists: taking locks (``threading.Event``) inside
    a handler can deadlock against the very code it interrupted. Restart
    requests are counted, not flagged, so one that arrives while the main loop
    is taking the previous one is never lost.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.restarts: list[int] = []
        self.restarts_taken = 0
        self.cluster: LocalCluster | None = None  # what a second signal kills at once

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._handle)
        signal.signal(signal.SIGUSR1, self._restart)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.cluster is not None and len(self.received) > 1:
            self.cluster.kill()

    def _restart(self, signum: int, frame: FrameType | None) -> None:
        self.restarts.append(signum)

    def take_restart(self) -> bool:
        """True once per batch of SIGUSR1 received since the last call."""
        pending = len(self.restarts)
        if pending == self.restarts_taken:
            return False
        self.restarts_taken = pending
        return True

    def __bool__(self) -> bool:
        return bool(self.received)


def summary(cluster: LocalCluster) -> str:
    lines = ["haws is up:"]
    for gw in cluster.gateways:
        lines.append(f"  gateway {gw.name:<10} {gw.ws_url}   http {gw.http_url}   pid {gw.pid}")
    if cluster.haproxy is not None:
        hp = cluster.haproxy
        lines.append(f"  haproxy            {hp.ws_url}   stats {hp.stats_url}   pid {hp.pid}")
    for server in cluster.nats.servers:
        lines.append(f"  nats    {server.name:<10} {server.url}   pid {server.pid}")
    for svc in [*cluster.presence, *cluster.replay]:
        lines.append(f"  {svc.command:<7} {svc.name:<10} {svc.http_url}   pid {svc.pid}")
    lines.append(f"  consul             {cluster.consul.ui_url}   pid {cluster.consul.pid}")
    lines.append(f"  logs               {cluster.data_dir / 'logs'}")
    lines.append(f"Ctrl-C stops everything; kill -USR1 {os.getpid()} restarts the gateways.")
    return "\n".join(lines)


def restart_gateways(cluster: LocalCluster, signals: Signals, timeout: float) -> None:
    """One rolling restart on request; a failure is reported and the cluster keeps running."""
    if not cluster.gateways:
        log.info("rolling restart requested, but this cluster has no gateways")
        return
    try:
        cluster.rolling_restart(timeout, abort=lambda: bool(signals), progress=log.info)
    except Aborted:
        log.info("rolling restart interrupted")
    except ClusterError as exc:
        log.error("rolling restart failed: %s", exc)


def watch(cluster: LocalCluster, signals: Signals, restart_timeout: float) -> None:
    """Until a stop signal: report any part that dies, restart gateways on SIGUSR1."""
    while not signals:
        for component in cluster.newly_exited():
            log.error(
                "%s (pid %s) exited with %s; see %s",
                component.name, component.pid, component.process.returncode, component.log_path,
            )  # fmt: skip
        if signals.take_restart():
            restart_gateways(cluster, signals, restart_timeout)
            continue
        time.sleep(WATCH_INTERVAL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.nats < 1 or min(args.gateways, args.presence, args.replay) < 0:
        parser.error("--nats needs at least 1; --gateways, --presence, --replay at least 0")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="haws up: %(message)s")
    use_haproxy = args.haproxy and shutil.which("haproxy") is not None
    if args.haproxy and not use_haproxy:
        log.info("haproxy is not on PATH; starting without it")
    secret = secrets.token_urlsafe(32) if args.auth == "jwt" else None
    spec = ClusterSpec(
        nats=args.nats,
        gateways=args.gateways,
        presence=args.presence,
        replay=args.replay,
        haproxy=use_haproxy,
        gateway_env=(
            (("HAWS_AUTH_MODE", "jwt"), ("HAWS_AUTH_HS256_SECRET", secret)) if secret else ()
        ),
    )
    signals = Signals()
    signals.install()
    try:
        cluster = LocalCluster(args.data_dir, spec)
        signals.cluster = cluster
        if not args.keep_data:
            cluster.clear()
        started = time.monotonic()
        cluster.start(
            args.ready_timeout,
            abort=lambda: bool(signals),
            on_stage=lambda label: log.info("starting %s", label),
        )
    except Aborted:
        log.info("interrupted during start-up; stopped")
        return 0
    except ClusterError as exc:
        log.error("start-up failed: %s", exc)
        return 1
    log.info("ready in %.1f s; logs in %s", time.monotonic() - started, cluster.data_dir / "logs")
    if signals.take_restart():
        log.info("ignoring SIGUSR1 received during start-up: the gateways are new")
    pid_file = cluster.data_dir / PID_FILE
    try:
        pid_file.write_text(f"{os.getpid()}\n")
        # A ready-made token for trying the cluster (user "dev", every topic).
        token = make_dev_token(secret, "dev") if secret else None
        if args.json:
            info = {**cluster.describe(), "pid": os.getpid(), "token": token}
            print(json.dumps(info, separators=(",", ":")), flush=True)
        else:
            print(summary(cluster), flush=True)
            if token:
                print(f"dev token (user dev, all topics, 1 h): {token}", flush=True)
        watch(cluster, signals, args.restart_timeout)
    finally:
        with contextlib.suppress(OSError):
            pid_file.unlink()
        log.info("stopping (a second Ctrl-C kills everything at once)")
        cluster.stop()
    log.info("stopped")
    return 0
