"""``GET /v1/presence/{topic}``: the same answer as the protocol's ``presence`` query."""

from __future__ import annotations

from aiohttp import web

from haws.gateway.deps import GatewayDeps
from haws.protocol.client_frames import check_topic
from haws.protocol.errors import ProtocolError


def presence_route(deps: GatewayDeps) -> web.RouteDef:
    async def presence(request: web.Request) -> web.Response:
        try:
            topic = check_topic(request.match_info["topic"], None)
            answer = await deps.presence.answer(topic)
        except ProtocolError as exc:
            status = 400 if exc.code == "bad_request" else 503
            return web.json_response({"error": exc.code, "message": exc.message}, status=status)
        return web.json_response({"topic": topic, **answer})

    return web.get("/v1/presence/{topic}", presence)
