"""The measured figures the capacity model stands on, read from bench results JSON.

``costs`` (``python -m bench --only costs``) is required: CPU per hello,
delivery, disconnect and resume by part, memory and KV bytes per connection.
``interest``, ``replay``, ``presence`` and ``fanout`` figures are used when a
results file has them (a full ``make bench`` run does); several files can be
given, a later one's figures replacing an earlier one's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ("gateway", "nats-server", "presence", "replay", "consul")
PHASES = ("hello", "delivery", "disconnect", "resume")
CURVE_PREFIX = "CPU/delivery at "
CURVE_SUFFIX = " msg/s per conn, gateway"
REPLAY_TAIL = "replay CPU/publish (tail)"
"""The figure of a replay replica's CPU per published message (the ``publish``
phase): its tail follows every topic's live messages (docs/performance.md), so
every replica pays it for every publish of the cluster, whoever replays."""


def curve_metric(rate: float) -> str:
    """The figure of the gateway's CPU per delivery at ``rate`` msg/s to each client."""
    return f"{CURVE_PREFIX}{rate:g}{CURVE_SUFFIX}"


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """The gateway's CPU per delivery measured at one rate per connection."""

    rate: float
    """msg/s each subscriber received (one subscription per client)."""
    gateway_us: float
    topics: int = 0
    offered_per_s: float = 0.0
    """Deliveries per second the phase offered (rate x subscribers)."""
    gateway_share: float = 0.0
    """The gateway's share of a core over the phase (its settle included)."""


class MissingFigures(Exception):
    """The results hold no ``costs`` figures: there is nothing to size from."""


@dataclass(frozen=True, slots=True)
class Source:
    path: str
    mode: str
    started: str
    commit: str | None
    machine: str


@dataclass(frozen=True, slots=True)
class Measured:
    scenario: str
    """e.g. ``costs-5000``: the run's size."""
    cpu_us: Mapping[str, Mapping[str, float]]
    """Phase -> part -> microseconds of CPU per unit (hello, delivery, ...)."""
    nats_us_per_publish: float
    """nats-server CPU per published message (stored once, sent to one gateway)."""
    nats_us_per_extra_gateway: float
    """nats-server CPU per published message for each more gateway that wants it."""
    gateway_us_per_received: float
    """A gateway's CPU per message NATS sends it (taken in, delivered to one client)."""
    received_rate: float
    """msg/s to each connection at which ``gateway_us_per_received`` was measured."""
    fanout: float
    """Subscribers per topic during the delivery phase."""
    delivery_curve: Sequence[CurvePoint]
    """The gateway's CPU per delivery by rate per connection, by rate (one point at
    least: results from before the curve have the ``delivery`` phase's alone)."""
    memory_kib: Mapping[str, float]
    """Part -> KiB of RSS per connection (one session, one subscription)."""
    sessions_kv_bytes: float
    presence_kv_bytes: float
    stream_bytes_per_msg: float
    kv_writes_per_hello: float
    loaded: float
    """The load generator's share of a core in the hello phase (near 1: it set the pace)."""
    interest_bytes_per_s: Mapping[int, float] = field(default_factory=dict)
    """Gateways -> mean bytes/s NATS sent each gateway, disjoint interests."""
    interest_msgs_per_own: Mapping[int, float] = field(default_factory=dict)
    """Gateways -> messages each gateway received per message of its own topic."""
    replay_us_per_msg: float | None = None
    """Server CPU (all parts) per message replayed to one client catching up."""
    replay_msgs_per_s: float | None = None
    replay_us_per_publish: float | None = None
    """A replay replica's CPU per message published in the cluster (its tail's
    intake, ``REPLAY_TAIL``); None: the results predate the tail's figure."""
    replay_tail_source: str = ""
    """Where ``replay_us_per_publish`` came from (the costs or the replay scenario)."""
    presence_ops_per_s: float | None = None
    delivery_rate: float = 0.0
    """msg/s to each connection in the ``delivery`` phase (0: not recorded)."""
    sources: Sequence[Source] = ()


def latest(results: Path = RESULTS) -> list[Path]:
    """The newest results file that has ``costs`` figures (and nothing if none has)."""
    for path in sorted(results.glob("*.json"), reverse=True):
        if any(f["scenario"].startswith("costs-") for f in _figures(_load(path))):
            return [path]
    return []


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _figures(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [f for f in payload.get("figures", []) if isinstance(f, dict)]


def read(paths: Iterable[Path]) -> Measured:
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    sources: list[Source] = []
    for path in paths:
        payload = _load(path)
        machine = payload.get("machine") or {}
        sources.append(
            Source(
                _shown(path),
                str(payload.get("mode")),
                str(payload.get("started")),
                (payload.get("code") or {}).get("commit"),
                f"{machine.get('nproc', '?')} CPUs ({machine.get('cpu', '?')})"
                if isinstance(machine, dict)
                else str(machine),
            )
        )
        for f in _figures(payload):
            if f.get("value") is not None:
                found[(f["scenario"], f["metric"], f["system"])] = f
    return from_figures(found, sources)


def from_figures(
    found: Mapping[tuple[str, str, str], Mapping[str, Any]], sources: Sequence[Source] = ()
) -> Measured:
    """``Measured`` from figures keyed by (scenario, metric, system)."""
    costs = sorted({s for s, _, _ in found if s.startswith("costs-")}, key=_size)
    if not costs:
        raise MissingFigures("no costs figures: run python -m bench --only costs first")
    scenario = costs[-1]

    def value(metric: str) -> float:
        figure = found.get((scenario, metric, "haws"))
        if figure is None:
            raise MissingFigures(f"{scenario} has no {metric!r} figure")
        return float(figure["value"])

    def details(phase: str) -> Mapping[str, Any]:
        return found[(scenario, f"CPU/{phase} total", "haws")].get("details") or {}

    cpu = {phase: {part: value(f"CPU/{phase} {part}") for part in PARTS} for phase in PHASES}
    delivery = details("delivery")
    deliveries = float(delivery.get("units", 0))
    published = float(delivery.get("published", 0)) or 1.0
    nats_per_publish = value("NATS CPU/publish, 1 gateway")
    fanout = max(1.0, deliveries / published)
    curve = _curve(found, scenario) or [
        CurvePoint(float(delivery.get("rate_per_topic", 1.0)), cpu["delivery"]["gateway"])
    ]
    interest: dict[int, float] = {}
    per_own: dict[int, float] = {}
    for (s, metric, system), figure in found.items():
        if s == "interest" and metric == "NATS in/gateway mean" and system.endswith("gw"):
            n = int(system.removeprefix("haws-").removesuffix("gw"))
            interest[n] = float(figure["value"])
            ratios = (figure.get("details") or {}).get("msgs_per_own_msg_by_gateway") or []
            if ratios:
                per_own[n] = sum(ratios) / len(ratios)
    replay_us, replay_rate = _replay(found)
    tail_us, tail_source = _tail(found, scenario)
    presence = [
        float(f["value"])
        for (s, metric, system), f in found.items()
        if s.startswith("presence-events-") and metric == "claims+events/s" and system == "haws"
    ]
    return Measured(
        scenario=scenario,
        cpu_us=cpu,
        nats_us_per_publish=nats_per_publish,
        nats_us_per_extra_gateway=max(
            0.0, value("NATS CPU/publish, 2 gateways") - nats_per_publish
        ),
        gateway_us_per_received=value("gateway CPU/publish received"),
        received_rate=float(
            (found[(scenario, "gateway CPU/publish received", "haws")].get("details") or {}).get(
                "rate_per_conn", SPREAD_RATE
            )
        ),
        fanout=fanout,
        delivery_curve=curve,
        memory_kib={p: value(f"memory/conn {p}") for p in ("gateway", "nats-server", "presence")},
        sessions_kv_bytes=value("sessions KV B/session"),
        presence_kv_bytes=value("presence KV B/session"),
        stream_bytes_per_msg=value("stream B/msg"),
        kv_writes_per_hello=value("KV writes/hello"),
        loaded=float(details("hello").get("loadgen_cpu", 0.0)),
        interest_bytes_per_s=dict(sorted(interest.items())),
        interest_msgs_per_own=dict(sorted(per_own.items())),
        replay_us_per_msg=replay_us,
        replay_msgs_per_s=replay_rate,
        replay_us_per_publish=tail_us,
        replay_tail_source=tail_source,
        presence_ops_per_s=max(presence) if presence else None,
        delivery_rate=float(delivery.get("rate_per_topic", 0.0)),
        sources=sources,
    )


def _curve(
    found: Mapping[tuple[str, str, str], Mapping[str, Any]], scenario: str
) -> list[CurvePoint]:
    """The delivery curve's figures of ``scenario``, by rate (one per rate)."""
    points: dict[float, CurvePoint] = {}
    for (s, metric, system), figure in found.items():
        if s != scenario or system != "haws" or not metric.startswith(CURVE_PREFIX):
            continue
        d = figure.get("details") or {}
        rate = float(metric.removeprefix(CURVE_PREFIX).removesuffix(CURVE_SUFFIX))
        points[rate] = CurvePoint(
            rate,
            float(figure["value"]),
            topics=int(d.get("topics", 0)),
            offered_per_s=float(d.get("offered_per_s", 0.0)),
            gateway_share=float(d.get("gateway_share", 0.0)),
        )
    return [points[r] for r in sorted(points)]


SPREAD_RATE = 100.0
"""The ``spread`` phase's msg/s per topic (one subscriber each) at full size, for
results that do not say."""


def _shown(path: Path) -> str:
    """``bench/results/<file>`` for the repository's own results, else the path given."""
    try:
        return path.resolve().relative_to(RESULTS.parent.parent).as_posix()
    except ValueError:
        return str(path)


def _size(scenario: str) -> int:
    tail = scenario.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _replay(
    found: Mapping[tuple[str, str, str], Mapping[str, Any]],
) -> tuple[float | None, float | None]:
    """Server CPU per replayed message and the rate, from the largest replay figure."""
    replays = sorted(
        (
            s
            for s, metric, system in found
            if s.startswith("replay-") and metric == "replayed msg/s" and system == "haws"
        ),
        key=_size,
    )
    if not replays:
        return None, None
    figure = found[(replays[-1], "replayed msg/s", "haws")]
    rate = float(figure["value"])
    share = (figure.get("details") or {}).get("server_cpu")
    if not rate or share is None:
        return None, rate or None
    return float(share) / rate * 1e6, rate


def _tail(
    found: Mapping[tuple[str, str, str], Mapping[str, Any]], scenario: str
) -> tuple[float | None, str]:
    """A replay replica's CPU per published message: the costs run's own figure,
    else the replay scenario's replica CPU per message while it stored them
    (``store_cpu_us_per_msg``: the same intake, measured at a higher rate)."""
    figure = found.get((scenario, REPLAY_TAIL, "haws"))
    if figure is not None:
        return float(figure["value"]), f"`{scenario}` publish phase"
    for s in sorted((s for s, _, _ in found if s.startswith("replay-")), key=_size, reverse=True):
        replayed = found.get((s, "replayed msg/s", "haws"))
        stored = ((replayed or {}).get("details") or {}).get("store_cpu_us_per_msg") or {}
        if "replay" in stored:
            return float(stored["replay"]), f"`{s}` while its messages were stored"
    return None, ""
