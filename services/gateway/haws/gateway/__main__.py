"""``haws gateway``: the gateway node's entry point."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from haws.common.entrypoint import service_main
from haws.gateway.service import run_gateway
from haws.gateway.settings import GatewaySettings


def main(argv: Sequence[str] | None = None) -> int:
    return service_main(
        GatewaySettings,
        run_gateway,
        argv,
        prog="haws gateway",
        stop_timeout=lambda s: s.drain_timeout,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
