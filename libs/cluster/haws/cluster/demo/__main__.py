"""``python -m haws.cluster.demo --port N --config FILE``: the demo page's server process."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from haws.cluster.demo.config import DemoConfig
from haws.cluster.demo.server import serve
from haws.cluster.ports import LOOPBACK


def _exit(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="haws-demo", description="Serve the haws demo page.")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    signal.signal(signal.SIGTERM, _exit)
    serve(args.host, args.port, DemoConfig.load(args.config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
