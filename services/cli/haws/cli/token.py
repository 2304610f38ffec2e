"""``haws token``: mint a client JWT for the gateways' HS256 secret (development)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from haws.cli.cluster_target import TargetError, add_arguments, resolve
from haws.server import token


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haws token",
        description="Print a client token (HS256) for the gateways' secret "
        "(HAWS_AUTH_HS256_SECRET, or the one `haws up --auth jwt` made).",
    )
    parser.add_argument("--user", default="dev", help="the token's user id (default dev)")
    parser.add_argument("--sub", action="append", help="subscribe pattern (repeat; default >)")
    parser.add_argument("--pub", action="append", help="publish pattern (repeat; default >)")
    parser.add_argument("--ttl", type=float, default=3600.0, help="seconds valid (default 3600)")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        secret = resolve(args).secret
        if not secret:
            raise TargetError("no secret: set HAWS_AUTH_HS256_SECRET or run `haws up --auth jwt`")
        grants = {"sub": args.sub or [">"], "pub": args.pub or [">"]}
        print(token(args.user, grants, args.ttl, key=secret))
    except (TargetError, ValueError) as exc:
        print(f"haws token: {exc}", file=sys.stderr)
        return 2
    return 0
