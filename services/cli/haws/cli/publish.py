"""``haws publish TOPIC DATA``: store one message through the server API."""

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
        prog="haws publish", description="Publish one message through the server API."
    )
    parser.add_argument("topic")
    parser.add_argument("data", help='JSON (e.g. \'{"text":"hi"}\'); anything else is a string')
    parser.add_argument("--mid", help="idempotency id: a retry with it is stored once")
    add_arguments(parser)
    return parser


def _data(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


async def _publish(url: str, key: str, topic: str, data: Any, mid: str | None) -> dict[str, Any]:
    async with ServerApi.http(url, key) as api:
        stored = await api.publish(topic, data, mid=mid)
    return {"topic": topic, "seq": stored.seq, "dup": stored.dup}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        url, key = resolve(args).api()
        result = asyncio.run(_publish(url, key, args.topic, _data(args.data), args.mid))
    except TargetError as exc:
        print(f"haws publish: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"haws publish: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0
