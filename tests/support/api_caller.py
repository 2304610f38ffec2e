"""Raw HTTP calls to the server API: status, headers and JSON as the wire carries them."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class ApiCaller:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, key: str | None) -> None:
        self.session = session
        self.base = base_url
        self.key = key

    async def post(
        self,
        method: str,
        body: Any = None,
        *,
        key: str | None = "default",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        key = self.key if key == "default" else key
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if raw is None:
            kwargs: dict[str, Any] = {"json": body if body is not None else {}}
        else:
            # Large bodies go as a stream (aiohttp warns on big raw bytes): no Content-Length.
            kwargs = {"data": io.BytesIO(raw) if len(raw) > 256 * 1024 else raw}
            sent.setdefault("Content-Type", "application/json")
        async with self.session.post(f"{self.base}/{method}", headers=sent, **kwargs) as resp:
            text = await resp.read()
            try:
                parsed: Any = await resp.json(content_type=None)
            except ValueError:
                parsed = text.decode(errors="replace")
            return Answer(resp.status, parsed, dict(resp.headers))

    async def ok(self, method: str, body: Any = None) -> Any:
        answer = await self.post(method, body)
        assert answer.status == 200, (method, answer)
        return answer.body
