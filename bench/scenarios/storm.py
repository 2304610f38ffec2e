"""Connect storm: N clients connect, say ``hello`` and ``sub`` at once, to one node.

The clock starts when the first handshake is sent and stops when the last
client holds both its ``welcome`` and the ``ok`` of its ``sub``
(``storm_concurrency`` handshakes in flight, 100 as issue 14 measured). haws
runs with the presence service (every hello claims its session, as in
production) and without; raw aiohttp is the baseline. Figures: connections/s
(clients / storm seconds), the storm's length, and p99 of one client's wait
from the storm's start (queueing for a slot included) until its ``ok``. The
details split the servers' CPU per connection by process (gateway, presence,
nats-server...): what each part of a hello costs (issue 14's capacity model).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.figures import Figure, role_of, skipped, why
from bench.lab import HAWS_DIALECTS, SYSTEMS, Lab, Profile, haws_variants
from bench.loadgen.crowd import close_all
from bench.loadgen.peer import Peer
from bench.loadgen.tally import summarize
from bench.part_meter import CpuSplit
from bench.profiler import Recording
from bench.scenarios.traffic import new_topic
from bench.systems import Running, Skipped
from bench.usage import CpuMeter

NAME = "storm"
SYSTEMS_MEASURED = ("haws", "haws-nopresence", "raw-aiohttp")
TIMEOUT = 60.0
"""Bound on one client's connect + hello + sub (the storm waits for all)."""
PROFILE_SECONDS = 60.0
"""py-spy's own bound; it is stopped as soon as the storm is over."""


class TooManyFailed(Exception):
    pass


def run(lab: Lab) -> list[Figure]:
    figures: list[Figure] = []
    for n in lab.sizes.storm_clients:
        scenario = f"{NAME}-{n}"
        for system in SYSTEMS:
            if system not in SYSTEMS_MEASURED or not lab.wants(system):
                continue
            print(f"  {scenario} {system} ...", flush=True)
            role = role_of(system)
            try:
                with lab.system(system) as target:
                    details = lab.run(_measure(lab, target, n))
            except Exception as exc:  # reported in the table, the run goes on
                figures.append(
                    skipped(scenario, "connect rate", system, "conn/s", why(exc),
                            role=role, better="higher")
                )  # fmt: skip
                continue
            figures += [
                Figure(scenario, "connect rate", system, details["connections_per_s"], "conn/s",
                       role=role, details=details),
                Figure(scenario, "all welcome+ok", system, details["seconds"] * 1000, "ms",
                       better="lower", role=role, details=details),
                Figure(scenario, "ok p99", system, details["ok_ms"]["p99"], "ms",
                       better="lower", role=role, details=details),
            ]  # fmt: skip
    if lab.options.profile:
        for system, presence in haws_variants():
            if lab.wants(system):
                _profile(lab, max(lab.sizes.storm_clients), system, presence)
    return figures


def _profile(lab: Lab, n: int, system: str, presence: bool) -> None:
    """py-spy on the gateway (and the presence replica, when on) during a storm:
    with presence and without, so the hot spots of the claim show as a difference."""
    scenario = f"{NAME}-{n}"
    print(f"  {scenario} {system} under py-spy ...", flush=True)
    try:
        with lab.haws(presence=presence) as stack:
            pids = {f"{system} gateway": stack.gateways[0].pid}
            if presence:
                pids[f"{system} presence"] = stack.backends[0].pid
            if None in pids.values():
                raise Skipped("a server has no pid")
            recordings = {
                name: Recording(pid, lab.data_dir / f"profile-storm-{name.replace(' ', '-')}")
                for name, pid in pids.items()
                if pid is not None
            }
            target = stack.running(system, HAWS_DIALECTS["haws"])
            lab.run(_measure(lab, target, n, list(recordings.values())))
            summaries = {name: r.finish(stop=True) for name, r in recordings.items()}
    except Exception as exc:  # reported with the profiles, the run goes on
        lab.profiles.append(Profile(scenario, system, {"skipped": why(exc)}))
        return
    for name, summary in summaries.items():
        lab.profiles.append(Profile(scenario, name, summary))


async def _measure(
    lab: Lab, target: Running, n: int, recordings: list[Recording] | None = None
) -> dict[str, Any]:
    topic = new_topic(NAME)
    peers = [Peer(target.dialect) for _ in range(n)]
    slots = asyncio.Semaphore(lab.sizes.storm_concurrency)
    welcome_ns: list[int] = []
    ok_ns: list[int] = []
    errors: list[str] = []
    meter = CpuMeter(target.server_pids())

    async def one(peer: Peer) -> None:
        async with slots:
            try:
                async with asyncio.timeout(TIMEOUT):
                    await peer.connect(target.url, timeout=TIMEOUT)
                    welcome_ns.append(time.monotonic_ns())
                    await peer.subscribe(topic)
                    ok_ns.append(time.monotonic_ns())
            except Exception as exc:  # counted and reported, the others go on
                errors.append(f"{type(exc).__name__}: {exc}")

    for recording in recordings or ():
        recording.start(0.0, PROFILE_SECONDS)
    split = CpuSplit(target.server_pids(), {target.rss_pid: "gateway"})
    start = meter.sample()
    began = time.monotonic_ns()
    try:
        await asyncio.gather(*(one(peer) for peer in peers))
        end = meter.sample()
        finished = time.monotonic_ns()
        split.stop()
    finally:
        await close_all(peers)
    if len(errors) > n // 100:
        raise TooManyFailed(f"{len(errors)} of {n} failed: {errors[0]}")
    seconds = (finished - began) / 1e9

    def since_start(stamps: list[int]) -> dict[str, float]:
        return {k: round(v, 1) for k, v in summarize((t - began) / 1e6 for t in stamps).items()}

    return {
        "clients": n,
        "failed": len(errors),
        "first_error": errors[0] if errors else None,
        "concurrency": lab.sizes.storm_concurrency,
        "seconds": round(seconds, 3),
        "connections_per_s": len(ok_ns) / seconds if seconds > 0 else None,
        "welcome_ms": since_start(welcome_ns),
        "ok_ms": since_start(ok_ns),
        "cpu_us_per_conn": split.per_unit(n),
        **meter.between(start, end).details(),
    }
