"""The HTTP door: ``POST <base>/<method>`` with ``Authorization: Bearer <key>``."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from haws.server.errors import ApiError


class HttpTransport:
    def __init__(self, base_url: str, key: str, *, timeout: float = 10.0) -> None:
        """``base_url`` ends in ``/api/v1`` (``haws up --json`` prints it as ``api.url``)."""
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {key}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        try:
            async with self._session.post(f"{self._base}/{method}", json=body) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError("unavailable", f"API not reachable: {exc!r}") from None
        try:
            answer: Any = json.loads(raw)
        except ValueError:
            raise ApiError("internal", f"HTTP {status}: not JSON", status=status) from None
        if status != 200:
            error = answer.get("error", {}) if isinstance(answer, dict) else {}
            raise ApiError(
                str(error.get("code", "internal")),
                str(error.get("message", f"HTTP {status}")),
                status=status,
                retry_after=float(retry_after) if retry_after else None,
            )
        if not isinstance(answer, dict):
            raise ApiError("internal", "answer is not a JSON object", status=status)
        return answer

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
