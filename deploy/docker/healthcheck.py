"""Container healthcheck for every haws service: exit 0 when ``/health`` answers 200.

The slim image has no curl, so this uses urllib. It reads the service's own
settings variables, so one image-wide HEALTHCHECK fits gateway, replay and
presence alike: the gateway serves HTTP on ``HAWS_HOST:HAWS_PORT``, the others on
``HAWS_HTTP_HOST:HAWS_HTTP_PORT``. ``HEALTHCHECK_URL`` overrides all of it.
Usage: ``healthcheck.py [PATH]`` (default ``/health``; compose may ask ``/ready``).
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping

DEFAULT_PORT = "8080"
# A listener on every interface is reached through loopback.
WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


def health_url(environ: Mapping[str, str], path: str = "/health") -> str:
    if environ.get("HEALTHCHECK_URL"):
        return environ["HEALTHCHECK_URL"]
    host = environ.get("HAWS_HTTP_HOST") or environ.get("HAWS_HOST") or ""
    port = environ.get("HAWS_HTTP_PORT") or environ.get("HAWS_PORT") or DEFAULT_PORT
    if host in WILDCARDS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


def main(argv: list[str]) -> int:
    url = health_url(os.environ, argv[0] if argv else "/health")
    try:
        with urllib.request.urlopen(url, timeout=3) as reply:
            return 0 if reply.status == 200 else 1
    except OSError as exc:  # URLError and HTTPError are OSErrors
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
