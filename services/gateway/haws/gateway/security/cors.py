"""Cross-origin reads a browser SDK needs: why a handshake failed, and which nodes exist.

A browser shows a refused WebSocket handshake to the page only as close 1006.
The JavaScript SDK then asks the same URL over plain HTTP and reads the status
(403: this page's origin is not allowed; 503/429 with ``Retry-After``), and it
reads ``/v1/gateways`` for failover. Both answers are public (any non-browser
client gets them), so they carry ``Access-Control-Allow-Origin: *``; the
WebSocket itself stays behind the Origin allow-list, which CORS never governs.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

READABLE_PATHS: Final = frozenset({"/ws", "/v1/gateways"})


async def _allow_reads(request: web.Request, response: web.StreamResponse) -> None:
    if response.status == 101:
        # An upgraded WebSocket: CORS never applies to it, and its headers live as
        # long as the connection (two more cost ~650 B per connection, tracemalloc).
        return
    if request.path in READABLE_PATHS and request.method == "GET":
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"


def allow_cross_origin_reads(app: web.Application) -> None:
    app.on_response_prepare.append(_allow_reads)
