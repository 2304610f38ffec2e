"""Consul registration with a TTL check, and the passing-gateways query.

A node is found only while it keeps passing its TTL check; a SIGKILLed node goes
critical after one TTL and is removed after ``DeregisterCriticalServiceAfter``.
On SIGTERM the node deregisters first, before it drains.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import consul.aio

from haws.common.logs import get_logger
from haws.common.tasks import stop_task


def consul_client(
    http_url: str, timeout: float = 2.0, token: str | None = None
) -> consul.aio.Consul:
    parts = urlsplit(http_url if "://" in http_url else f"http://{http_url}")
    with warnings.catch_warnings():
        # py-consul passes aiohttp arguments aiohttp has deprecated.
        warnings.simplefilter("ignore", DeprecationWarning)
        return consul.aio.Consul(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 8500,
            scheme=parts.scheme or "http",
            connections_timeout=timeout,
            token=token or None,
        )


async def close_consul(client: consul.aio.Consul) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        await client.http.close()


@dataclass(frozen=True, slots=True)
class ServiceInstance:
    service: str
    service_id: str
    address: str
    port: int
    meta: dict[str, str]


class ConsulRegistration:
    """Keeps one service instance registered while the owner runs ``start``..``stop``."""

    def __init__(
        self,
        client: consul.aio.Consul,
        instance: ServiceInstance,
        *,
        ttl: float,
        deregister_after: float,
        meta_source: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self._client = client
        self._instance = instance
        self._ttl = ttl
        self._deregister_after = deregister_after
        self._meta_source = meta_source
        self._task: asyncio.Task[None] | None = None
        self._registered = asyncio.Event()
        self._meta: dict[str, str] = {}
        self._log = get_logger("consul", service_id=instance.service_id)

    @property
    def registered(self) -> bool:
        return self._registered.is_set()

    @property
    def check_id(self) -> str:
        return f"service:{self._instance.service_id}"

    def _current_meta(self) -> dict[str, str]:
        meta = dict(self._instance.meta)
        if self._meta_source is not None:
            meta.update(self._meta_source())
        return meta

    async def _register(self) -> None:
        meta = self._current_meta()
        await asyncio.wait_for(
            self._client.agent.service.register(
                self._instance.service,
                service_id=self._instance.service_id,
                address=self._instance.address,
                port=self._instance.port,
                meta=meta,
                check={
                    "TTL": f"{self._ttl:g}s",
                    "DeregisterCriticalServiceAfter": f"{max(self._deregister_after, 60):g}s",
                    "Status": "passing",
                },
            ),
            self._ttl,
        )
        self._meta = meta

    async def _pass(self) -> None:
        await asyncio.wait_for(self._client.agent.check.ttl_pass(self.check_id), self._ttl)

    async def _keep_alive(self) -> None:
        interval = self._ttl / 3
        while True:
            try:
                if not self._registered.is_set() or self._current_meta() != self._meta:
                    # Registering again also passes the check and refreshes the meta
                    # (connection count) that /v1/gateways reports.
                    await self._register()
                    if not self._registered.is_set():
                        self._registered.set()
                        self._log.info("consul.registered")
                else:
                    await self._pass()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Consul away or the check was reaped: re-register
                if self._registered.is_set():
                    self._log.warning("consul.ttl_failed", error=repr(exc))
                self._registered.clear()
            await asyncio.sleep(interval)

    async def start(self, timeout: float) -> None:
        """Register and keep the check passing; waits for the first registration."""
        self._task = asyncio.create_task(self._keep_alive(), name="consul-ttl")
        await asyncio.wait_for(self._registered.wait(), timeout)

    async def stop(self) -> None:
        """Stop passing the check and deregister, so nobody is sent here any more."""
        await stop_task(self._task)
        self._task = None
        if self._registered.is_set():
            self._registered.clear()
            try:
                await asyncio.wait_for(
                    self._client.agent.service.deregister(self._instance.service_id), self._ttl
                )
                self._log.info("consul.deregistered")
            except Exception as exc:  # the TTL will expire it anyway
                self._log.warning("consul.deregister_failed", error=repr(exc))


async def passing_instances(
    client: consul.aio.Consul, service: str, timeout: float
) -> list[ServiceInstance]:
    _, nodes = await asyncio.wait_for(client.health.service(service, passing=True), timeout)
    found = []
    for entry in nodes:
        svc = entry["Service"]
        found.append(
            ServiceInstance(
                service=svc["Service"],
                service_id=svc["ID"],
                address=svc["Address"],
                port=int(svc["Port"]),
                meta=dict(svc.get("Meta") or {}),
            )
        )
    return found
