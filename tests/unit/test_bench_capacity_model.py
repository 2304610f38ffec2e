"""The capacity model: it reads exactly the figures the costs scenario writes, and its
sizing keeps every budget it states (core share, memory, re-admission time)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bench.capacity_inputs import PARTS, Measured, MissingFigures, from_figures
from bench.capacity_model import BEGIN, END, HELP, Assumptions, parse, render, size, write
from bench.figures import Figure
from bench.scenarios import costs

COSTS_US = {
    "hello": {"gateway": 1400.0, "nats-server": 350.0, "presence": 900.0, "replay": 0.0},
    "delivery": {"gateway": 20.0, "nats-server": 0.5, "presence": 0.0, "replay": 0.0},
    "disconnect": {"gateway": 330.0, "nats-server": 55.0, "presence": 15.0, "replay": 0.0},
    "resume": {"gateway": 2100.0, "nats-server": 700.0, "presence": 1300.0, "replay": 300.0},
}


def costs_details() -> dict[str, Any]:
    """What ``costs._measure`` returns, with made-up numbers."""
    details: dict[str, Any] = {}
    for phase, parts in COSTS_US.items():
        cpu = {**{p: 0.0 for p in PARTS}, **parts}
        cpu["total"] = sum(cpu.values())
        details[phase] = {"units": 10_000, "published": 100, "cpu_us": cpu}
    details["hello"]["rss_kib_per_unit"] = {"gateway": 20.0, "nats-server": 2.0, "presence": 1.5}
    details["sizes"] = {
        "nats_us_per_publish_1gw": 50.0,
        "nats_us_per_publish_2gw": 60.0,
        "gateway_us_per_publish_received": 40.0,
        "kv_writes_per_hello": 2.0,
        "nats_msgs_per_hello": 11.0,
        "sessions_kv_bytes_per_session": 122.0,
        "presence_kv_bytes_per_session": 230.0,
        "stream_bytes_per_msg": 160.0,
    }
    return details


def measured(extra: list[Figure] | None = None) -> Measured:
    figures = [*costs.figures_of("costs-5000", costs_details()), *(extra or [])]
    return from_figures({(f.scenario, f.metric, f.system): f.as_dict() for f in figures})


def test_the_model_reads_what_the_costs_scenario_writes() -> None:
    m = measured()
    assert m.scenario == "costs-5000"
    assert m.cpu_us["hello"]["presence"] == 900.0
    assert m.cpu_us["resume"]["replay"] == 300.0
    assert m.nats_us_per_publish == 50.0
    assert m.nats_us_per_extra_gateway == pytest.approx(10.0)
    assert m.gateway_us_per_received == 40.0
    assert m.memory_kib["gateway"] == 20.0
    assert m.fanout == 100.0  # 10,000 deliveries of 100 publishes
    assert (m.sessions_kv_bytes, m.presence_kv_bytes, m.stream_bytes_per_msg) == (122, 230, 160)


def test_interest_and_replay_figures_are_read_when_present() -> None:
    interest = [
        Figure("interest", "NATS in/gateway mean", f"haws-{n}gw", 50_000.0 + n, "B/s",
               details={"msgs_per_own_msg_by_gateway": [2.0] * n})
        for n in (1, 2, 4, 8)
    ]  # fmt: skip
    replay = Figure("replay-100000", "replayed msg/s", "haws", 50_000.0, "msg/s",
                    details={"server_cpu": 1.0})  # fmt: skip
    m = measured([*interest, replay])
    assert list(m.interest_bytes_per_s) == [1, 2, 4, 8]
    assert m.interest_msgs_per_own[8] == 2.0
    assert m.replay_us_per_msg == pytest.approx(20.0)


def test_without_costs_figures_there_is_nothing_to_size() -> None:
    with pytest.raises(MissingFigures):
        from_figures({})


def test_the_sizing_keeps_its_budgets_and_grows_with_the_connections() -> None:
    m, a = measured(), Assumptions()
    small, large = size(m, a, 100_000), size(m, a, 1_000_000)
    for s in (small, large):
        assert s.gateway_util <= a.core_budget
        assert s.per_gateway * m.memory_kib["gateway"] <= a.gateway_rss_gib * 1024 * 1024
        assert s.readmit_s["gateway"] <= a.resume_within
        assert s.nats_nodes >= 3
        assert s.nats_nodes % 2 == 1
        assert s.presence_replicas >= 2
        assert s.replay_replicas >= 2
    assert large.gateways > small.gateways
    assert large.stream_max_bytes == pytest.approx(small.stream_max_bytes * 10)


def test_a_small_memory_budget_makes_memory_set_the_gateway_count() -> None:
    m = measured()
    a = dataclasses.replace(Assumptions(), gateway_rss_gib=0.1)
    s = size(m, a, 100_000)
    assert s.gateway_limit == "memory"
    assert s.per_gateway * m.memory_kib["gateway"] <= 0.1 * 1024 * 1024


def test_write_replaces_only_the_generated_section(tmp_path: Path) -> None:
    doc = tmp_path / "capacity.md"
    doc.write_text(f"# Capacity\n\nhand-written\n\n{BEGIN}\nSTALE SECTION\n{END}\n\nafter\n")
    section = render(measured(), Assumptions())
    write(doc, section)
    text = doc.read_text()
    assert text.startswith("# Capacity\n\nhand-written\n\n")
    assert text.endswith(f"{END}\n\nafter\n")
    assert "STALE SECTION" not in text
    assert "| gateways (N+1) |" in text
    assert text.count(BEGIN) == 1


def test_every_assumption_is_a_flag_with_its_meaning() -> None:
    names = [f.name for f in dataclasses.fields(Assumptions)]
    assert sorted(HELP) == sorted(names)
    args, assumptions = parse(["--msg-rate", "5", "--connections", "1000", "2000"])
    assert assumptions.msg_rate == 5.0
    assert assumptions.connections == (1000, 2000)
    assert args.write is None
