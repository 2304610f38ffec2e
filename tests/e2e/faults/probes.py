"""What a fault test asks Consul and the cluster (from the client host)."""

from __future__ import annotations

from collections.abc import Sequence

from haws.common import names
from haws.common.discovery import close_consul, consul_client, passing_instances
from tests.e2e.chaos.stream import Ack
from tests.support.wire_log import WireMsg


async def passing_gateways(consul_http: str) -> set[str]:
    """Node names on Consul's passing list of gateways; empty when Consul is unreachable."""
    consul = consul_client(consul_http, timeout=2.0)
    try:
        found = await passing_instances(consul, names.GATEWAY_SERVICE, 3.0)
    except (OSError, TimeoutError, Exception):  # unreachable is an answer here
        return set()
    finally:
        await close_consul(consul)
    return {i.service_id for i in found}


def rpo(acks: Sequence[Ack], stored: Sequence[WireMsg]) -> int:
    """Acked messages the stream no longer holds (the recovery point objective's count)."""
    held = {m.seq for m in stored}
    return sum(1 for a in acks if a.seq not in held)


async def is_passing(consul_http: str, node: str) -> bool:
    return node in await passing_gateways(consul_http)


async def is_not_passing(consul_http: str, node: str) -> bool:
    return node not in await passing_gateways(consul_http)
