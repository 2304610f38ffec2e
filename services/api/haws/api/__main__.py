"""``haws api``: a server API replica's entry point."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from haws.api.node import run_api
from haws.api.settings import ApiSettings
from haws.common.entrypoint import service_main


def main(argv: Sequence[str] | None = None) -> int:
    return service_main(ApiSettings, run_api, argv, prog="haws api")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
