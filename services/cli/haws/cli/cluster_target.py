"""Where the backend commands (publish, status, token, events) find the cluster.

Flags first, then ``HAWS_API_URL`` / ``HAWS_API_KEY`` / ``HAWS_NATS_URL`` /
``HAWS_AUTH_HS256_SECRET``, then the state file ``haws up`` writes
(``<data-dir>/up.json``, owner-readable): after ``haws up`` they need no flags.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_FILE = "up.json"


class TargetError(Exception):
    """Not enough to reach the cluster; the message says what to pass."""


@dataclass(frozen=True, slots=True)
class Target:
    api_url: str | None
    api_key: str | None
    nats_url: str | None
    secret: str | None

    def api(self) -> tuple[str, str]:
        if not self.api_url or not self.api_key:
            raise TargetError(
                "no API: pass --api-url and --api-key, set HAWS_API_URL and HAWS_API_KEY, "
                "or run `haws up` (its data dir holds up.json)"
            )
        return self.api_url, self.api_key


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", help="HTTP API base URL, e.g. http://127.0.0.1:8093/api/v1")
    parser.add_argument("--api-key", help="API key (prefer HAWS_API_KEY: keys stay out of ps)")
    parser.add_argument("--nats-url", help="NATS URL (events tail)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("run"), help="haws up's data folder (default ./run)"
    )


def _state(data_dir: Path) -> dict[str, Any]:
    try:
        state: Any = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def resolve(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Target:
    env = os.environ if environ is None else environ
    state = _state(args.data_dir)
    api = state.get("api") or {}
    nats = state.get("nats") or []
    first_nats = nats[0].get("url") if nats and isinstance(nats[0], dict) else None
    return Target(
        api_url=args.api_url or env.get("HAWS_API_URL") or api.get("url"),
        api_key=args.api_key or env.get("HAWS_API_KEY") or api.get("key"),
        nats_url=getattr(args, "nats_url", None) or env.get("HAWS_NATS_URL") or first_nats,
        secret=env.get("HAWS_AUTH_HS256_SECRET") or state.get("auth_secret"),
    )
