"""Which gateway to connect to next: seed URLs, discovered nodes, failover order.

Seeds are never forgotten (they may be a load balancer, or the only way back
after every discovered node changed); discovered nodes are replaced by each
refresh, so a drained or dead node that left Consul's passing list is dropped.
Picks go round-robin over the known URLs with the node that just failed last,
so a client leaves a dying node and a fleet spreads over the live ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

import aiohttp

log = logging.getLogger(__name__)

_HTTP_SCHEME = {"ws": "http", "wss": "https"}


def gateways_url(ws_url: str) -> str:
    """The ``/v1/gateways`` URL on the node serving ``ws_url`` (ws://h:p/ws -> http://h:p/v1/gateways).

    A path prefix in front of ``/ws`` (a proxy mount point) is kept.
    """
    parts = urlsplit(ws_url)
    scheme = _HTTP_SCHEME.get(parts.scheme, parts.scheme)
    prefix = parts.path[: -len("/ws")] if parts.path.endswith("/ws") else ""
    return urlunsplit((scheme, parts.netloc, f"{prefix}/v1/gateways", "", ""))


def _ws_urls(urls: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for url in urls:
        if urlsplit(url).scheme in _HTTP_SCHEME:
            seen.setdefault(url, None)
    return list(seen)


class Endpoints:
    def __init__(self, seeds: Sequence[str]) -> None:
        bad = [u for u in seeds if urlsplit(u).scheme not in _HTTP_SCHEME]
        if bad or not seeds:
            raise ValueError(f"urls must be one or more ws:// or wss:// URLs, not {bad}")
        self._seeds = _ws_urls(seeds)
        self._discovered: list[str] = []
        self._last: str | None = None
        self._last_index = -1

    @property
    def urls(self) -> list[str]:
        """Every known URL: seeds first, then discovered nodes not among them."""
        return self._seeds + [u for u in self._discovered if u not in self._seeds]

    def update(self, discovered: Iterable[str]) -> None:
        """Replace the discovered nodes (seeds stay)."""
        self._discovered = _ws_urls(discovered)

    def order(self, avoid: str | None = None) -> list[str]:
        """Known URLs in the order to try them: round-robin after the last pick,
        ``avoid`` (the node that just failed) last unless it is the only one."""
        urls = self.urls
        start = urls.index(self._last) + 1 if self._last in urls else self._last_index + 1
        start %= len(urls)
        ordered = urls[start:] + urls[:start]
        if avoid in ordered and len(ordered) > 1:
            ordered.remove(avoid)
            ordered.append(avoid)
        return ordered

    def pick(self, avoid: str | None = None) -> str:
        """The next URL to connect to (see ``order``); remembered for round-robin."""
        url = self.order(avoid)[0]
        self._last = url
        self._last_index = self.urls.index(url)
        return url

    async def refresh(self, http: aiohttp.ClientSession, avoid: str | None, timeout: float) -> bool:
        """Ask known nodes (``avoid`` last) for ``/v1/gateways`` until one answers.

        Failures are ignored (the known list stays); returns whether a list came back.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for url in self.order(avoid):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    async with http.get(gateways_url(url)) as resp:
                        if resp.status != 200:
                            continue
                        body = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.debug("discovery via %s failed: %r", url, exc)
                continue
            if not isinstance(body, list):
                continue
            self.update(
                item["url"]
                for item in body
                if isinstance(item, dict) and isinstance(item.get("url"), str)
            )
            return True
        return False
