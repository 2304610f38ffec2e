"""``create_app``: the gateway's aiohttp application from its dependencies.

A pure factory: nothing connects. Tests build it around the memory broker
(``tests/integration/test_gateway_conversation.py``) and around real NATS and
Consul processes through ``run_gateway`` (``tests/support/gateway_runner.py``).
"""

from __future__ import annotations

from aiohttp import web

from haws.common.health_http import health_routes
from haws.gateway.deps import GatewayDeps
from haws.gateway.gateways_http import gateways_route
from haws.gateway.presence_http import presence_route
from haws.gateway.ws_endpoint import WsEndpoint

DEPS = web.AppKey("haws_gateway_deps", GatewayDeps)


def create_app(deps: GatewayDeps) -> web.Application:
    app = web.Application(client_max_size=deps.settings.max_frame_bytes)
    app[DEPS] = deps
    endpoint = WsEndpoint(deps)
    app.add_routes(
        [
            web.get("/ws", endpoint.handle),
            gateways_route(deps),
            *health_routes(deps.state.not_ready_reason, deps.metrics.registry),
        ]
    )
    if deps.settings.auth_mode == "anonymous":
        # Plain HTTP carries no token: with jwt auth this would bypass the grants.
        app.add_routes([presence_route(deps)])
    return app
