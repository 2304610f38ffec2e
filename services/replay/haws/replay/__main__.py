"""``haws replay``: a replay replica's entry point."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from haws.common.entrypoint import service_main
from haws.replay.node import run_replay
from haws.replay.settings import ReplaySettings


def main(argv: Sequence[str] | None = None) -> int:
    return service_main(ReplaySettings, run_replay, argv, prog="haws replay")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
