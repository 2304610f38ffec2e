"""A real gateway in the test's event loop (see ``service_runner``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from haws.gateway.deps import GatewayDeps
from haws.gateway.service import run_gateway
from haws.gateway.settings import GatewaySettings
from tests.support.service_runner import RunningService, running_service


class RunningGateway(RunningService[GatewayDeps]):
    @property
    def deps(self) -> GatewayDeps:
        return self.value

    @property
    def url(self) -> str:
        s = self.deps.settings
        return f"ws://{s.host}:{s.port}/ws"

    @property
    def http(self) -> str:
        s = self.deps.settings
        return f"http://{s.host}:{s.port}"


def gateway_settings(nats_url: str, consul_http: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "nats_url": (nats_url,),
        "consul_http": consul_http,
        "port": 0,
        "host": "127.0.0.1",
        "consul_ttl": 2.0,
        "drain_period": 0.5,
        "drain_timeout": 5.0,
        "session_flush_interval": 0.2,
        "session_cursor_interval": 0.2,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@contextlib.asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[RunningGateway]:
    async with running_service(run_gateway, settings) as service:
        yield RunningGateway(service.value, service.stop_event, service.task)
