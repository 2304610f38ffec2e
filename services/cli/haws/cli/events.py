"""``haws events tail``: print lifecycle events from ``HAWS_EVENTS`` as JSON lines."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

import nats

from haws.cli.cluster_target import TargetError, add_arguments, resolve
from haws.server import EventFeed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haws events", description="Read the lifecycle event stream HAWS_EVENTS."
    )
    parser.add_argument("action", choices=("tail",))
    parser.add_argument("--all", action="store_true", help="from the start (default: new only)")
    parser.add_argument("--type", action="append", help="only this type (repeat)")
    parser.add_argument("--session", help="only this session")
    parser.add_argument("--count", type=int, default=0, help="stop after N events (0: never)")
    add_arguments(parser)
    return parser


async def _tail(url: str, args: argparse.Namespace) -> None:
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=-1)
    printed = 0
    try:
        feed = EventFeed(nc, start="all" if args.all else "new", types=args.type)
        async for event in feed:
            if args.session and event.session != args.session:
                continue
            body = {k: v for k, v in asdict(event).items() if v is not None}
            print(json.dumps(body), flush=True)
            printed += 1
            if args.count and printed >= args.count:
                return
    finally:
        await nc.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        url = resolve(args).nats_url
        if not url:
            raise TargetError("no NATS: pass --nats-url, set HAWS_NATS_URL or run `haws up`")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_tail(url, args))
    except TargetError as exc:
        print(f"haws events: {exc}", file=sys.stderr)
        return 2
    return 0
