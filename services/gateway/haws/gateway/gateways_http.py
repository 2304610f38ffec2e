"""``GET /v1/gateways``: healthy nodes from Consul, for client-side failover."""

from __future__ import annotations

from aiohttp import web

from haws.common import names
from haws.common.discovery import passing_instances
from haws.gateway.deps import GatewayDeps


def gateways_route(deps: GatewayDeps) -> web.RouteDef:
    async def gateways(_: web.Request) -> web.Response:
        if deps.consul is None:
            raise web.HTTPServiceUnavailable(text="no consul configured")
        try:
            instances = await passing_instances(
                deps.consul, names.GATEWAY_SERVICE, deps.settings.request_timeout
            )
        except Exception as exc:  # Consul away: say so, the client keeps its seed list
            deps.log.warning("gateways.consul_failed", error=repr(exc))
            return web.json_response({"error": "consul unavailable"}, status=503)
        body = [
            {
                "node": i.meta.get("node", i.service_id),
                "url": i.meta.get("url", f"ws://{i.address}:{i.port}/ws"),
                "connections": int(i.meta.get("connections", "0")),
            }
            for i in instances
        ]
        return web.json_response(body)

    return web.get("/v1/gateways", gateways)
