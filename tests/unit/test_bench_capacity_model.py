"""The capacity model: it reads exactly the figures the costs scenario writes, and its
sizing keeps every budget it states (core share, memory, re-admission time)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

from bench.capacity_inputs import (
    PARTS,
    REPLAY_TAIL,
    CurvePoint,
    Measured,
    MissingFigures,
    from_figures,
)
from bench.capacity_model import (
    BEGIN,
    END,
    HELP,
    Assumptions,
    delivery_us,
    gateway_work_us,
    parse,
    received_us,
    render,
    size,
    write,
)
from bench.figures import Figure
from bench.scenarios import costs

COSTS_US = {
    "hello": {"gateway": 1400.0, "nats-server": 350.0, "presence": 900.0, "replay": 0.0},
    "delivery": {"gateway": 20.0, "nats-server": 0.5, "presence": 0.0, "replay": 0.0},
    "disconnect": {"gateway": 330.0, "nats-server": 55.0, "presence": 15.0, "replay": 0.0},
    "resume": {"gateway": 2100.0, "nats-server": 700.0, "presence": 1300.0, "replay": 300.0},
}


CURVE = ((1.0, 40.0), (4.0, 20.0), (40.0, 2.0), (400.0, 0.5))
"""(msg/s per connection, gateway µs per delivery): what the delivery phases measured."""


def costs_details() -> dict[str, Any]:
    """What ``costs._measure`` returns, with made-up numbers."""
    details: dict[str, Any] = {}
    for phase, parts in COSTS_US.items():
        cpu = {**{p: 0.0 for p in PARTS}, **parts}
        cpu["total"] = sum(cpu.values())
        details[phase] = {"units": 10_000, "published": 100, "cpu_us": cpu}
    details["spread"] = {"rate_per_topic": 100.0}
    details["hello"]["rss_kib_per_unit"] = {"gateway": 20.0, "nats-server": 2.0, "presence": 1.5}
    details["delivery_curve"] = [
        {"rate_per_conn": rate, "gateway_us": us, "topics": 10, "offered_per_s": rate * 5_000,
         "gateway_share": 0.3}
        for rate, us in CURVE
    ]  # fmt: skip
    details["sizes"] = {
        "nats_us_per_publish_1gw": 50.0,
        "nats_us_per_publish_2gw": 60.0,
        "gateway_us_per_publish_received": 40.0,
        "replay_us_per_publish": 10.0,
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


def test_the_tail_intake_comes_from_costs_else_from_the_replay_scenario() -> None:
    assert measured().replay_us_per_publish == 10.0
    details = {"server_cpu": 1.0, "store_cpu_us_per_msg": {"replay": 7.5}}
    stored = Figure("replay-100000", "replayed msg/s", "haws", 50_000.0, "msg/s", details=details)
    older = [f for f in costs.figures_of("costs-5000", costs_details()) if f.metric != REPLAY_TAIL]
    m = from_figures({(f.scenario, f.metric, f.system): f.as_dict() for f in [*older, stored]})
    assert m.replay_us_per_publish == 7.5
    assert "replay-100000" in m.replay_tail_source
    m = from_figures({(f.scenario, f.metric, f.system): f.as_dict() for f in older})
    assert m.replay_us_per_publish is None
    assert "no figure" in render(m, Assumptions())


def test_every_replay_replica_pays_the_tail_and_more_replicas_share_only_the_burst() -> None:
    a = Assumptions(msg_rate=1.0, fanout=10)
    cheap = size(dataclasses.replace(measured(), replay_us_per_publish=1.0), a, 100_000)
    dear = size(dataclasses.replace(measured(), replay_us_per_publish=50.0), a, 100_000)
    published = 100_000 / 10
    assert cheap.replay_tail_cores == pytest.approx(published * 1.0 / 1e6)
    assert dear.replay_tail_cores == pytest.approx(published * 50.0 / 1e6)
    assert cheap.replay_tail_on  # 0.01 of a core
    assert dear.replay_tail_on  # 0.5 of a core
    # The burst is shared, the intake is not: each replica's peak holds all of it,
    # and a dearer intake leaves less of each replica for the burst.
    assert dear.replay_cores >= dear.replay_tail_cores
    assert dear.replay_replicas >= cheap.replay_replicas
    assert dear.replay_cores <= 1.0


def test_a_tail_over_the_core_budget_is_turned_off_in_the_sizing() -> None:
    m = dataclasses.replace(measured(), replay_us_per_publish=100.0)
    a = Assumptions(msg_rate=1.0, fanout=10)
    s = size(m, a, 1_000_000)  # 100,000 publishes/s: 10 cores of intake per replica
    assert not s.replay_tail_on
    assert s.replay_cores < s.replay_tail_cores
    text = render(m, dataclasses.replace(a, connections=(1_000_000,)))
    assert "tail off" in text
    assert "each replay replica's tail" in text


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


def curve_of(*points: tuple[float, float]) -> Measured:
    return dataclasses.replace(measured(), delivery_curve=[CurvePoint(r, us) for r, us in points])


def test_the_delivery_curve_is_read_by_rate() -> None:
    m = measured()
    assert [(p.rate, p.gateway_us) for p in m.delivery_curve] == list(CURVE)
    assert m.delivery_curve[1].topics == 10
    assert m.delivery_curve[1].offered_per_s == 20_000


def test_results_from_before_the_curve_have_the_delivery_phase_as_its_one_point() -> None:
    details = costs_details()
    del details["delivery_curve"]
    details["delivery"]["rate_per_topic"] = 4.0
    figures = costs.figures_of("costs-5000", details)
    m = from_figures({(f.scenario, f.metric, f.system): f.as_dict() for f in figures})
    assert [(p.rate, p.gateway_us) for p in m.delivery_curve] == [(4.0, 20.0)]
    assert m.delivery_rate == 4.0
    assert "| delivery (one msg to one client, 4 msg/s to each) | 20.0 |" in render(
        m, Assumptions()
    )
    assert delivery_us(m, 1.0) == delivery_us(m, 400.0) == 20.0


def test_a_curve_gives_its_measured_costs_at_its_rates_and_clamps_outside() -> None:
    m = measured()
    for rate, us in CURVE:
        assert delivery_us(m, rate) == pytest.approx(us)
    assert delivery_us(m, 0.1) == 40.0  # below the lowest rate: its cost, not more
    assert delivery_us(m, 10_000.0) == 0.5  # above the highest: its cost, not less


def test_between_two_points_the_cost_is_a_power_law() -> None:
    m = curve_of((4.0, 20.0), (40.0, 2.0))
    # log-log straight: a tenfold rate divides the cost by ten, so the geometric
    # middle of the rates has the geometric middle of the costs.
    assert delivery_us(m, math.sqrt(4.0 * 40.0)) == pytest.approx(math.sqrt(20.0 * 2.0))
    assert delivery_us(m, 20.0) == pytest.approx(4.0)
    assert 2.0 < delivery_us(m, 39.0) < delivery_us(m, 5.0) < 20.0


def test_a_message_from_nats_costs_more_at_a_rate_whose_deliveries_cost_more() -> None:
    m = measured()  # 40 us per message received, measured at 100 msg/s per connection
    assert m.received_rate == 100.0
    at_100 = delivery_us(m, 100.0)
    assert 0.5 < at_100 < 2.0
    assert received_us(m, 100.0) == pytest.approx(40.0)
    assert received_us(m, 1.0) == pytest.approx(40.0 + 40.0 - at_100)
    assert received_us(m, 4.0) == pytest.approx(40.0 + 20.0 - at_100)
    assert received_us(m, 400.0) == pytest.approx(40.0)  # never below what was measured


def test_a_rows_gateway_count_follows_from_its_rate() -> None:
    curved = dataclasses.replace(curve_of((1.0, 40.0), (40.0, 2.0)), gateway_us_per_received=40.0)
    flat = dataclasses.replace(curved, delivery_curve=[CurvePoint(1.0, 40.0)])
    a = Assumptions(connections=(1_000_000,), row_rates=(40.0,), interest_spread=0.01)
    n = 1_000_000
    priced, at_low_rate = size(curved, a, n), size(flat, a, n)
    assert (priced.msg_rate, priced.delivery_us, priced.received_us) == (40.0, 2.0, 40.0)
    assert at_low_rate.delivery_us == 40.0
    # 40 M deliveries/s at 2 us instead of 40 us: far fewer gateways, though not a
    # twentieth (the churn and each message taken from NATS cost the same in both).
    assert priced.gateway_limit == at_low_rate.gateway_limit == "CPU"
    assert 10 < at_low_rate.gateways / priced.gateways < 20
    # The count is the smallest whose G-1 carry the row's work within the budget.
    row = dataclasses.replace(a, msg_rate=40.0)
    g = priced.gateways
    assert gateway_work_us(curved, row, n, g - 1) / (g - 1) <= a.core_budget * 1e6
    assert gateway_work_us(curved, row, n, g - 2) / (g - 2) > a.core_budget * 1e6
    # At 1 msg/s per connection the same curve prices every delivery at 40 us.
    assert size(curved, dataclasses.replace(a, row_rates=(1.0,)), n).delivery_us == 40.0


def test_each_row_has_its_own_rate() -> None:
    m = measured()
    a = Assumptions(connections=(100_000, 1_000_000), row_rates=(1.0, 40.0))
    small, large = size(m, a, 100_000), size(m, a, 1_000_000)
    assert (small.msg_rate, small.delivery_us) == (1.0, 40.0)
    assert (large.msg_rate, large.delivery_us) == (40.0, 2.0)
    assert large.deliveries_per_s == 40_000_000
    text = render(m, a)
    assert "| msg/s to each connection (assumed) | 1 | 40 |" in text
    assert "1,000,000 connections at 40 msg/s: 2.00 µs" in text


def test_row_rates_are_one_per_connection_count() -> None:
    _, a = parse(["--connections", "1000", "2000", "--row-rates", "1", "50"])
    assert a.row_rates == (1.0, 50.0)
    with pytest.raises(SystemExit):
        parse(["--connections", "1000", "2000", "--row-rates", "1"])
    with pytest.raises(SystemExit):
        parse(["--row-rates", "0", "1"])


def test_a_faster_delivery_phase_runs_on_fewer_topics_within_its_budget() -> None:
    # 10 topics of 500 subscribers, 100,000 deliveries/s at most, one topic at least.
    assert costs._topics_within(4.0, 500, 10, 100_000) == 10
    assert costs._topics_within(40.0, 500, 10, 100_000) == 5
    assert costs._topics_within(400.0, 500, 10, 100_000) == 1


def test_a_delivery_phase_becomes_a_curve_point() -> None:
    phase = {
        "units": 80_000, "published": 160, "rate_per_topic": 40.0, "seconds": 10.0,
        "cpu_us": {"gateway": 3.5, "nats-server": 0.2}, "cpu_share": {"gateway": 0.4},
        "loadgen_cpu": 0.5, "lost": 0, "subscribers_closed": 0,
    }  # fmt: skip
    point = costs._point(phase, 4)
    assert point["rate_per_conn"] == 40.0
    assert point["gateway_us"] == 3.5
    assert point["subscribers_per_topic"] == 500.0
    assert point["offered_per_s"] == 40.0 * 500 * 4
    figures = costs.figures_of("costs-5000", {**costs_details(), "delivery_curve": [point]})
    curve = [f for f in figures if f.metric.startswith("CPU/delivery at ")]
    assert [(f.metric, f.value) for f in curve] == [
        ("CPU/delivery at 40 msg/s per conn, gateway", 3.5)
    ]
