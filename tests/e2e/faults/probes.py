"""What a fault test asks Consul and the cluster (from the client host), and the
sequence every partition scenario runs once the network is whole again."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nats
from nats.errors import Error as NatsError

from haws.common import names
from haws.common.discovery import close_consul, consul_client, passing_instances
from tests.e2e.chaos.fleet import Fleet
from tests.e2e.chaos.probes import get_json, read_back
from tests.e2e.chaos.stream import Ack, SteadyStream
from tests.e2e.chaos.test_nats_kill import stream_leader
from tests.e2e.faults.conftest import FaultHarness
from tests.e2e.faults.placement import FaultCluster
from tests.e2e.faults.sizes import ACK_WAIT
from tests.support.waiting import eventually
from tests.support.wire_log import Totals, Verdict, WireMsg, verify

CATCH_UP_TIMEOUT = 60.0
"""Seconds a node cut off and rejoined may take to hold what the majority held."""


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


async def lead_from(cluster: FaultCluster, node: str) -> bool:
    """Ask the stream's leadership onto ``node``; whether it got there."""
    nc = await nats.connect(servers=[s.url for s in cluster.nats], connect_timeout=5)
    try:
        if await stream_leader(nc) != node:
            with contextlib.suppress(NatsError):
                await nc.request(
                    f"$JS.API.STREAM.LEADER.STEPDOWN.{names.STREAM}",
                    json.dumps({"placement": {"preferred": node}}).encode(),
                    timeout=5,
                )

            async def moved() -> bool:
                with contextlib.suppress(NatsError):
                    return await stream_leader(nc) == node
                return False

            with contextlib.suppress(AssertionError):
                await eventually(moved, timeout=10, interval=0.2, message="leader moved")
        return await stream_leader(nc) == node
    finally:
        await nc.close()


async def stream_state(monitor_url: str) -> dict[str, Any]:
    """The HAWS stream's state as one server holds it (its ``/jsz``)."""
    body = await get_json(f"{monitor_url}/jsz?streams=true")
    for account in body.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            if stream.get("name") == names.STREAM:
                return dict(stream.get("state") or {})
    return {}


@dataclass(frozen=True, slots=True)
class AfterHeal:
    """What a partition scenario reports once the network is whole again."""

    totals: Totals
    """The fleet's wire verdicts."""
    app_faults: dict[str, str]
    resumed: list[float]
    """Per moved client: seconds from the cut until it held the first message after it."""
    caught_up_s: float
    """Seconds from the heal until the rejoined node held what the majority held."""
    history: Verdict
    """The stream read back through a gateway."""
    rpo: int

    def counts(self) -> dict[str, Any]:
        return {
            **self.totals.counts(),
            "rto_s": round(max(self.resumed), 3) if self.resumed else None,
            "rpo": self.rpo,
        }


@dataclass(frozen=True, slots=True)
class Cut:
    """One partition as the after-heal sequence needs it."""

    at: float
    """``time.monotonic()`` when the cut was made."""
    moved: Sequence[str]
    """Fleet members that had to move (their resumes are timed)."""
    rejoined: str
    """Monitor URL of the NATS node cut off, which must catch up after the heal."""
    majority: str
    """Monitor URL of a NATS node on the majority side."""
    read_from: str
    """WebSocket URL of the gateway the stream is read back through."""


async def heal_and_judge(
    faults: FaultHarness, fleet: Fleet, stream: SteadyStream, topic: str, cut: Cut
) -> AfterHeal:
    """Once 3/4 of the stream is acked, heal; finish the stream, verify the fleet, time
    the resumes, wait for the rejoined node to catch up, read the stream back. Fails at
    once where nothing can be judged."""
    await stream.wait_acked(stream.count * 3 // 4, timeout=ACK_WAIT)
    await faults.heal()
    healed_at = time.monotonic()
    await stream.finish()
    assert not stream.failures, stream.failures[:5]
    acked = stream.seqs
    assert len(acked) == len(set(acked)) == stream.count
    await fleet.wait_received(topic, set(acked), timeout=ACK_WAIT)
    totals = fleet.verify(topic, acked)
    app_faults = fleet.application_faults(acked)
    marker = stream.first_sent_after(cut.at)
    assert marker is not None
    arrivals = [faults.log.arrival(name, topic, marker.seq) for name in cut.moved]
    resumed = [a - cut.at for a in arrivals if a is not None]
    majority = await stream_state(cut.majority)

    async def caught_up() -> bool:
        state = await stream_state(cut.rejoined)
        # The stream goes on growing (canary probes): at least where the majority was.
        return int(state.get("last_seq", 0)) >= int(majority.get("last_seq", 0))

    await eventually(
        caught_up, timeout=CATCH_UP_TIMEOUT, interval=0.5, message="the cut node caught up"
    )
    caught_up_s = time.monotonic() - healed_at
    stored = [WireMsg.of(m) for m in await read_back(cut.read_from, topic, timeout=30)]
    history = verify(stored, acked, first_prev=0)
    return AfterHeal(totals, app_faults, resumed, caught_up_s, history, rpo(stream.acks, stored))
