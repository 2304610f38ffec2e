"""``haws status``: nodes, connections, streams and the presence leader, from ``info``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from haws.cli.cluster_target import TargetError, add_arguments, resolve
from haws.server import ApiError, ServerApi


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haws status", description="Show the cluster's state through the server API."
    )
    parser.add_argument("--json", action="store_true", help="print info's JSON as it came")
    add_arguments(parser)
    return parser


async def _info(url: str, key: str) -> dict[str, Any]:
    async with ServerApi.http(url, key) as api:
        return await api.info()


def render(info: dict[str, Any]) -> str:
    lines = []
    nodes = info.get("nodes")
    if nodes is None:
        lines.append("nodes: unknown (Consul unreachable)")
    else:
        total = sum(n.get("connections", 0) for n in nodes)
        lines.append(f"nodes: {len(nodes)}, connections: {total}")
        for n in nodes:
            lines.append(
                f"  {n['node']:<20} {n.get('url') or '-':<32} conns {n.get('connections', 0):>6}"
                f"  topics {n.get('topics', 0):>6}  up {n.get('uptime') or 0:.0f} s"
                f"  v{n.get('version') or '?'}"
            )
    for name in ("stream", "events"):
        s = info.get(name)
        if s is None:
            lines.append(f"{name}: unavailable")
        else:
            lines.append(
                f"{name}: {s['messages']} messages, last seq {s['last_seq']}, "
                f"replicas {s['replicas']}, leader {s.get('leader') or '-'}"
            )
    presence = info.get("presence") or {}
    shards = presence.get("shards")
    if shards:
        led = ", ".join(f"{k}: {holder or 'none'}" for k, holder in enumerate(shards))
        lines.append(f"presence shards: {led}")
    else:
        lines.append(f"presence leader: {presence.get('leader') or 'none'}")
    for part, error in (info.get("errors") or {}).items():
        lines.append(f"! {part}: {error}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        url, key = resolve(args).api()
        info = asyncio.run(_info(url, key))
    except TargetError as exc:
        print(f"haws status: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"haws status: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(info) if args.json else render(info))
    return 0
