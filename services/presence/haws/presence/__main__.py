"""``haws presence``: a presence replica's entry point."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from haws.common.entrypoint import service_main
from haws.presence.node import run_presence
from haws.presence.settings import PresenceSettings


def main(argv: Sequence[str] | None = None) -> int:
    return service_main(PresenceSettings, run_presence, argv, prog="haws presence")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
