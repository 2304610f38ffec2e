"""What ``info`` reports: gateway nodes from Consul, the streams, the presence leader.

Each part is read on its own deadline and reported as ``null`` with an
``errors`` entry when its source is away, so ``info`` answers during an outage
(that is when an operator asks).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import consul.aio
import msgpack
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from haws.common import names
from haws.common.discovery import passing_instances
from haws.protocol.names import EVENTS_STREAM


class ClusterInfo:
    def __init__(
        self, js: JetStreamContext, consul_client: consul.aio.Consul, *, timeout: float
    ) -> None:
        self._js = js
        self._consul = consul_client
        self._timeout = timeout

    async def gateways(self) -> list[dict[str, Any]]:
        instances = await passing_instances(self._consul, names.GATEWAY_SERVICE, self._timeout)
        now = time.time()
        nodes = []
        for inst in instances:
            meta = inst.meta
            started = _number(meta.get("started"))
            nodes.append(
                {
                    "node": meta.get("node", inst.service_id),
                    "url": meta.get("url"),
                    "version": meta.get("version"),
                    "uptime": round(now - started, 1) if started else None,
                    "connections": int(_number(meta.get("connections"))),
                    "topics": int(_number(meta.get("topics"))),
                }
            )
        return sorted(nodes, key=lambda n: str(n["node"]))

    async def stream(self, name: str) -> dict[str, Any]:
        info = await asyncio.wait_for(self._js.stream_info(name), self._timeout)
        state, config, cluster = info.state, info.config, info.cluster
        return {
            "messages": state.messages,
            "bytes": state.bytes,
            "first_seq": state.first_seq,
            "last_seq": state.last_seq,
            "consumers": state.consumer_count,
            "replicas": config.num_replicas,
            "leader": cluster.leader if cluster is not None else None,
        }

    async def presence(self) -> dict[str, Any]:
        """The leader's name; with leader shards, each shard's holder too (``shards``)."""
        kv = await asyncio.wait_for(self._js.key_value(names.KV_PRESENCE), self._timeout)
        try:
            leader = await self._holder(kv, names.KV_PRESENCE_LEADER)
        except NotFoundError:
            leader = None
        report: dict[str, Any] = {"leader": leader}
        shards: list[str | None] = []
        # Shards are numbered from 0: read their leases until one is not there.
        while len(shards) < names.PRESENCE_MAX_SHARDS:
            try:
                shards.append(await self._holder(kv, names.presence_shard_key(len(shards))))
            except NotFoundError:
                break
        if shards:
            report["shards"] = shards
        return report

    async def _holder(self, kv: KeyValue, key: str) -> str | None:
        """The holder a lease names (None: vacant or unreadable); NotFoundError if absent."""
        entry = await asyncio.wait_for(kv.get(key), self._timeout)
        try:
            holder = msgpack.unpackb(entry.value or b"", raw=False).get("holder")
        except (ValueError, AttributeError, msgpack.UnpackException):
            return None
        return str(holder) if holder else None

    async def report(self) -> dict[str, Any]:
        parts = {
            "nodes": self.gateways(),
            "stream": self.stream(names.STREAM),
            "events": self.stream(EVENTS_STREAM),
            "presence": self.presence(),
        }
        results = await asyncio.gather(*parts.values(), return_exceptions=True)
        report: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for key, result in zip(parts, results, strict=True):
            if isinstance(result, BaseException):
                report[key] = None
                errors[key] = type(result).__name__
            else:
                report[key] = result
        report["errors"] = errors
        return report

    async def gateway_count(self) -> int | None:
        try:
            return len(await passing_instances(self._consul, names.GATEWAY_SERVICE, self._timeout))
        except Exception:
            return None


def _number(raw: str | None) -> float:
    try:
        return float(raw) if raw else 0.0
    except ValueError:
        return 0.0
