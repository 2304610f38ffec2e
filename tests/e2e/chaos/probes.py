"""What a test asks a running component over HTTP: readiness, Prometheus counters, NATS clients."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp

from tests.support.ws_client import WsClient

TIMEOUT = aiohttp.ClientTimeout(total=3.0)
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


async def status(url: str) -> int | None:
    """The HTTP status of ``GET url``; ``None`` when nothing answers."""
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http, http.get(url) as resp:
            return resp.status
    except (aiohttp.ClientError, TimeoutError, OSError):
        return None


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http, http.get(url) as resp:
        resp.raise_for_status()
        return await resp.json(content_type=None)


async def metrics(http_url: str) -> dict[str, float]:
    """``/metrics`` as ``{"name{labels}": value}`` (``name`` alone when unlabelled)."""
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as http,
        http.get(f"{http_url}/metrics") as resp,
    ):
        resp.raise_for_status()
        text = await resp.text()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            name, labels, value = match.groups()
            samples[name + (labels or "")] = float(value)
    return samples


def total(samples: dict[str, float], name: str) -> float:
    """The sum of ``name`` over all its label sets."""
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


async def nats_client_names(monitor_url: str) -> list[str]:
    """Names of the clients connected to one nats-server (its ``/connz``)."""
    body = await get_json(f"{monitor_url}/connz?limit=1024")
    return sorted(c.get("name", "") for c in body.get("connections") or [])


READ_BACK_RETRY = 0.2
"""Seconds between a refused reader's attempts (within ``read_back``'s deadline)."""


async def _admitted(url: str, timeout: float) -> WsClient:
    """A connection the gateway admits, waiting out a 503: a node that found the
    backplane without quorum a moment after a NATS server died (the canary) turns
    new clients away until the stream has its leader again, as it should."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await WsClient.connect(url)
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status != 503 or asyncio.get_running_loop().time() >= deadline:
                raise
        await asyncio.sleep(READ_BACK_RETRY)


async def read_back(url: str, topic: str, timeout: float) -> list[dict[str, Any]]:
    """Every stored message of ``topic``, through a gateway's history (``since: 0``)."""
    reader = await _admitted(url, timeout)
    try:
        await reader.hello()
        await reader.sub(topic, since=0)
        await reader.recv("recovered", timeout=timeout)
        return list(reader.msgs[topic])
    finally:
        await reader.close()
