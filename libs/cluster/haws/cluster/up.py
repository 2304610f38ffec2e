"""``haws up``: run the local cluster in the foreground until SIGINT or SIGTERM.

Output contract: with ``--json`` stdout carries exactly one JSON line (the
cluster's addresses and pids) once everything is ready, and every other word
goes to stderr; without it a summary for humans goes to stdout. The first
SIGINT/SIGTERM stops the parts in reverse order and exits 0; a second one
kills them at once. Children die with this process even if it is SIGKILLed.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from haws.cluster.errors import Aborted, ClusterError
from haws.cluster.local import ClusterSpec, LocalCluster

log = logging.getLogger("haws.up")
WATCH_INTERVAL = 0.1


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
        help="presence replicas, once the service exists (default 2)",
    )
    parser.add_argument(
        "--replay",
        type=int,
        default=2,
        metavar="N",
        help="replay replicas, once the service exists (default 2)",
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
    return parser


class Signals:
    """Records SIGINT/SIGTERM/SIGHUP; the main loop polls it.

    The handler only appends to a list: taking locks (``threading.Event``) inside
    a handler can deadlock against the very code it interrupted.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.cluster: LocalCluster | None = None  # what a second signal kills at once

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.cluster is not None and len(self.received) > 1:
            self.cluster.kill()

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
    lines.append("Ctrl-C stops everything.")
    return "\n".join(lines)


def watch(cluster: LocalCluster, signals: Signals) -> None:
    """Until a signal: report any part that dies, and keep the others running."""
    while not signals:
        for component in cluster.newly_exited():
            log.error(
                "%s (pid %s) exited with %s; see %s",
                component.name, component.pid, component.process.returncode, component.log_path,
            )  # fmt: skip
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
    spec = ClusterSpec(
        nats=args.nats,
        gateways=args.gateways,
        presence=args.presence,
        replay=args.replay,
        haproxy=use_haproxy,
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
    if args.json:
        print(json.dumps(cluster.describe(), separators=(",", ":")), flush=True)
    else:
        print(summary(cluster), flush=True)
    try:
        watch(cluster, signals)
    finally:
        log.info("stopping (a second Ctrl-C kills everything at once)")
        cluster.stop()
    log.info("stopped")
    return 0
