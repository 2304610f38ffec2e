"""The demo's static HTTP server: the page, the SDK's browser bundle, the config, dev tokens.

Standard library only and on loopback: it serves a handful of files to a
developer's browser. In jwt mode ``/token`` mints short-lived dev tokens with
the cluster's dev secret, standing in for the app backend a real deployment
has (it never runs outside ``haws up``).
"""

from __future__ import annotations

import json
import logging
import os
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, Final
from urllib.parse import parse_qs, urlsplit

from haws.cluster.demo.config import DemoConfig
from haws.common.tokens import make_dev_token

PAGE_DIR: Final = Path(__file__).resolve().parent / "page"
# libs/cluster/haws/cluster/demo/server.py -> the repository root is five levels up.
BUNDLE: Final = Path(__file__).resolve().parents[5] / "clients" / "js" / "dist" / "haws.min.js"
SECRET_ENV: Final = "HAWS_AUTH_HS256_SECRET"
TOKEN_TTL_MIN, TOKEN_TTL_MAX, TOKEN_TTL_DEFAULT = 2, 3600, 300
USER_MAX = 64
TYPES: Final = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
MISSING_BUNDLE: Final = (
    f"{BUNDLE} is not built: run `make js` (npm ci and npm run build in clients/js)\n"
)

log = logging.getLogger("haws.demo")


class DemoHandler(BaseHTTPRequestHandler):
    config: ClassVar[DemoConfig]
    secret: ClassVar[str | None]
    bundle: ClassVar[Path] = BUNDLE
    server_version = "haws-demo"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        if path == "/health":
            self._send(HTTPStatus.OK, b"ok\n", "text/plain")
        elif path == "/config.json":
            self._send(HTTPStatus.OK, self.config.to_json().encode(), "application/json")
        elif path == "/token":
            self._token(parse_qs(url.query))
        elif path == "/haws.min.js":
            self._file(self.bundle, MISSING_BUNDLE)
        else:
            name = "index.html" if path in ("/", "/index.html") else path.lstrip("/")
            target = (PAGE_DIR / name).resolve()
            if target.parent != PAGE_DIR or target.suffix not in TYPES:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
            else:
                self._file(target, "not found\n")

    def _token(self, query: dict[str, list[str]]) -> None:
        if self.secret is None:
            self._send(HTTPStatus.NOT_FOUND, b"anonymous mode: no tokens\n", "text/plain")
            return
        user = (query.get("user") or ["guest"])[0][:USER_MAX] or "guest"
        try:
            ttl = int((query.get("ttl") or [str(TOKEN_TTL_DEFAULT)])[0])
        except ValueError:
            ttl = TOKEN_TTL_DEFAULT
        ttl = max(TOKEN_TTL_MIN, min(TOKEN_TTL_MAX, ttl))
        token = make_dev_token(self.secret, user, ttl=ttl)
        body = json.dumps({"token": token, "ttl": ttl}).encode()
        self._send(HTTPStatus.OK, body, "application/json")

    def _file(self, path: Path, missing: str) -> None:
        try:
            body = path.read_bytes()
        except OSError:
            status = HTTPStatus.SERVICE_UNAVAILABLE if path == self.bundle else HTTPStatus.NOT_FOUND
            self._send(status, missing.encode(), "text/plain")
            return
        self._send(HTTPStatus.OK, body, TYPES.get(path.suffix, "application/octet-stream"))

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.info("%s %s", self.address_string(), format % args)


def make_server(
    host: str, port: int, config: DemoConfig, secret: str | None, bundle: Path = BUNDLE
) -> ThreadingHTTPServer:
    """A bound server (port 0: any free one); the caller runs ``serve_forever``."""
    handler = type(
        "BoundDemoHandler", (DemoHandler,), {"config": config, "secret": secret, "bundle": bundle}
    )
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    return httpd


def serve(host: str, port: int, config: DemoConfig) -> None:
    """Serve until SIGTERM/SIGINT (the process's default handlers end it)."""
    with make_server(host, port, config, os.environ.get(SECRET_ENV) or None) as httpd:
        log.info("demo page on http://%s:%d/", host, port)
        httpd.serve_forever()
