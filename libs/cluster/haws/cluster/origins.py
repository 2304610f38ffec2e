"""Which browser origins ``haws up``'s gateways allow: the demo page's and local dev servers'.

A gateway allows no browser page by default (``HAWS_ALLOWED_ORIGINS`` empty), which
is right for production and wrong for a developer's first five minutes: every
page would get HTTP 403, seen by the page only as close 1006. ``haws up`` runs
on a developer's machine, so it allows the demo and the usual dev-server ports
on loopback, plus whatever the developer names (``--allow-origin`` or
``HAWS_ALLOWED_ORIGINS``). Exact origins only, as the gateway requires.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

ENV: Final = "HAWS_ALLOWED_ORIGINS"
DEV_PORTS: Final = (3000, 5173, 8080)
"""create-react-app/Next.js, Vite, and the usual static server."""
DEV_ORIGINS: Final = tuple(
    f"http://{host}:{port}" for port in DEV_PORTS for host in ("localhost", "127.0.0.1")
)


def from_env(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The origins listed (comma separated) in ``HAWS_ALLOWED_ORIGINS``."""
    return tuple(o.strip() for o in environ.get(ENV, "").split(",") if o.strip())


def merged(*groups: Iterable[str]) -> tuple[str, ...]:
    """All origins of every group, first occurrence kept, order kept."""
    return tuple(dict.fromkeys(o for group in groups for o in group))
