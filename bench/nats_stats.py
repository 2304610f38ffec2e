"""What nats-server counted, read from its monitor port and JetStream: messages,
bytes, JetStream API calls, and the size of the stream and KV buckets.

The capacity model sizes NATS from these counts per hello, per resume and per
published message, and the KV buckets from their bytes per session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from haws.common import names

COUNTERS = ("in_msgs", "out_msgs", "in_bytes", "out_bytes", "js_api")
"""Server-wide counters; ``js_api`` is JetStream API requests (KV reads and writes
included: a KV get or put is one)."""

STREAMS = {
    "stream": names.STREAM,
    "sessions_kv": names.kv_stream(names.KV_SESSIONS),
    "presence_kv": names.kv_stream(names.KV_PRESENCE),
}
"""Streams whose writes (``last_seq``) and size (``bytes``, ``messages``) are read."""

TIMEOUT = aiohttp.ClientTimeout(total=5.0)


async def server_counters(monitor_url: str) -> dict[str, int]:
    """``/varz`` message and byte counters and ``/jsz`` API requests, since start."""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        async with http.get(f"{monitor_url}/varz") as response:
            varz = await response.json()
        async with http.get(f"{monitor_url}/jsz") as response:
            jsz = await response.json()
    counters = {key: int(varz.get(key, 0)) for key in COUNTERS[:4]}
    counters["js_api"] = int((jsz.get("api") or {}).get("total", 0))
    return counters


async def stream_states(nc: NatsClient) -> dict[str, dict[str, int]]:
    """``last_seq`` (writes so far), ``messages`` and ``bytes`` of each of ``STREAMS``."""
    js = nc.jetstream(timeout=5.0)
    out: dict[str, dict[str, int]] = {}
    for key, stream in STREAMS.items():
        try:
            state = (await js.stream_info(stream)).state
        except NotFoundError:
            out[key] = {"last_seq": 0, "messages": 0, "bytes": 0}
            continue
        out[key] = {
            "last_seq": int(state.last_seq),
            "messages": int(state.messages),
            "bytes": int(state.bytes),
        }
    return out


def per_unit(
    before: Mapping[str, Any], after: Mapping[str, Any], units: int, *, digits: int = 2
) -> dict[str, float]:
    """``(after - before) / units`` of every counter both have (nested one level)."""
    n = max(1, units)
    out: dict[str, float] = {}
    for key, value in after.items():
        if isinstance(value, Mapping):
            for sub, v in value.items():
                out[f"{key}.{sub}"] = round((v - before[key][sub]) / n, digits)
        else:
            out[key] = round((value - before[key]) / n, digits)
    return out
