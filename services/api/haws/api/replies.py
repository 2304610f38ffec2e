"""The shape of answers on both doors: JSON bodies, the error body, HTTP statuses."""

from __future__ import annotations

from typing import Any

from haws.protocol.codec import JSON
from haws.protocol.errors import ProtocolError

STATUS: dict[str, int] = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "rate_limited": 429,
    "internal": 500,
    "unavailable": 503,
}
"""HTTP status of each protocol error code."""

RETRY_AFTER_UNAVAILABLE = 1
"""Seconds a 503 asks a backend to wait: NATS reconnects within about that."""


def error_body(exc: ProtocolError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message}}


def encode(body: dict[str, Any]) -> bytes:
    """JSON; raw bytes a msgpack client stored come out as base64, as on a JSON socket."""
    return JSON.encode(body)
