"""``haws <command> [args]``: dispatch to a service's ``main(argv)``, imported lazily.

Each command's module is imported only when it runs, so ``haws gateway`` does
not pay for the cluster launcher and ``haws up`` works before every service
exists. The command's own parser handles its arguments (and its ``--help``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import cast

COMMANDS: dict[str, tuple[str, str]] = {
    "gateway": ("haws.gateway.__main__", "run a gateway node (WebSocket /ws and HTTP)"),
    "presence": ("haws.presence.__main__", "run a presence service replica"),
    "replay": ("haws.replay.__main__", "run a replay service replica"),
    "api": ("haws.api.__main__", "run a server API replica (NATS haws.api.v1.*, HTTP /api/v1)"),
    "consul-acl": (
        "haws.cluster.consul_acl",
        "create the Consul ACL policies and per-service tokens (compose, Kubernetes Job)",
    ),
    "up": ("haws.cluster.up", "run a local cluster: Consul, NATS, services, gateways, HAProxy"),
    "token": ("haws.cli.token", "print a client token for the gateways' HS256 secret (dev)"),
    "publish": ("haws.cli.publish", "publish one message through the server API"),
    "status": ("haws.cli.status", "nodes, connections, streams, presence leader (server API)"),
    "events": ("haws.cli.events", "events tail: print lifecycle events from HAWS_EVENTS"),
}


def build_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<12}{about}" for name, (_, about) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="haws",
        description="haws: a highly available WebSocket messaging tier.",
        epilog=f"commands:\n{listing}\n\n`haws COMMAND --help` shows a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=sorted(COMMANDS), metavar="COMMAND")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def load_command(command: str) -> Callable[[list[str]], int | None] | None:
    """The command's ``main``, or None when its module is not installed."""
    module_name = COMMANDS[command][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the command's own module missing means "not installed"; a missing
        # dependency inside it is a real error and must show its traceback.
        if exc.name is None or not module_name.startswith(exc.name):
            raise
        return None
    return cast(Callable[[list[str]], int | None], module.main)


def main(argv: Sequence[str] | None = None) -> int:
    parsed = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    run = load_command(parsed.command)
    if run is None:
        print(
            f"haws: the {parsed.command} service is not available in this installation "
            f"({COMMANDS[parsed.command][0]} not found)",
            file=sys.stderr,
        )
        return 2
    code = run(list(parsed.args))
    return int(code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
