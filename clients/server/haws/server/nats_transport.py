"""The NATS door: a request on ``haws.api.v1.<method>`` to the ``haws-api`` micro service."""

from __future__ import annotations

import json
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError

from haws.protocol.names import api_subject
from haws.server.errors import ApiError


class NatsTransport:
    def __init__(self, nc: NatsClient, *, timeout: float = 5.0) -> None:
        """Uses the caller's connection (and its credentials); ``close`` leaves it open."""
        self._nc = nc
        self._timeout = timeout

    async def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body, separators=(",", ":")).encode()
        try:
            reply = await self._nc.request(api_subject(method), payload, timeout=self._timeout)
        except NoRespondersError:
            raise ApiError("unavailable", "no haws-api replica answers") from None
        except (NatsError, TimeoutError) as exc:
            raise ApiError("unavailable", f"no answer: {type(exc).__name__}") from None
        try:
            answer: Any = json.loads(reply.data)
        except ValueError:
            raise ApiError("internal", "answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ApiError("internal", "answer is not a JSON object")
        error = answer.get("error")
        if isinstance(error, dict):
            raise ApiError(str(error.get("code", "internal")), str(error.get("message", "")))
        return answer

    async def close(self) -> None:
        return None
