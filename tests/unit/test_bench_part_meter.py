"""The costs scenario's arithmetic: each part's CPU net of its idle rate, per unit;
the NATS counters per unit; a gateway's received bytes from ``/connz`` deltas."""

from __future__ import annotations

import pytest

from bench.nats_stats import per_unit
from bench.part_meter import PartMeter, PartSample, rss_growth_kib
from bench.scenarios.interest import received_rates


def sample(wall: float, cpu: dict[str, float], rss: dict[str, int] | None = None) -> PartSample:
    return PartSample(wall=wall, loadgen=0.0, cpu=cpu, rss=rss or dict.fromkeys(cpu, 0))


def test_the_idle_rate_is_taken_off_every_window() -> None:
    meter = PartMeter({"gateway": [1], "presence": [2]})
    meter.calibrate(sample(0.0, {"gateway": 1.0, "presence": 5.0}),
                    sample(10.0, {"gateway": 1.5, "presence": 5.0}))  # fmt: skip
    assert meter.idle == {"gateway": pytest.approx(0.05), "presence": 0.0}
    usage = meter.between(sample(20.0, {"gateway": 2.0, "presence": 5.0}),
                          sample(30.0, {"gateway": 4.5, "presence": 6.0}))  # fmt: skip
    # 2.5 s of gateway CPU in 10 s, of which 0.5 s is its background
    assert usage.cpu["gateway"] == pytest.approx(2.0)
    assert usage.per_unit_us(1000) == {"gateway": pytest.approx(2000.0),
                                       "presence": pytest.approx(1000.0)}  # fmt: skip


def test_a_part_below_its_idle_rate_counts_zero_not_negative() -> None:
    meter = PartMeter({"gateway": [1]})
    meter.calibrate(sample(0.0, {"gateway": 0.0}), sample(1.0, {"gateway": 0.1}))
    usage = meter.between(sample(5.0, {"gateway": 1.0}), sample(6.0, {"gateway": 1.02}))
    assert usage.cpu["gateway"] == 0.0


def test_quiet_means_every_part_is_back_near_its_idle_rate() -> None:
    meter = PartMeter({"gateway": [1], "presence": [2]})
    meter.idle = {"gateway": 0.01, "presence": 0.0}
    start = sample(0.0, {"gateway": 0.0, "presence": 0.0})
    assert meter.quiet(start, sample(1.0, {"gateway": 0.02, "presence": 0.01}), 0.02)
    assert not meter.quiet(start, sample(1.0, {"gateway": 0.02, "presence": 0.3}), 0.02)


def test_memory_growth_is_per_unit() -> None:
    start = sample(0.0, {"gateway": 0.0}, {"gateway": 100_000})
    end = sample(1.0, {"gateway": 0.0}, {"gateway": 200_000})
    assert rss_growth_kib(start, end, 5000) == {"gateway": 20.0}


def test_nats_counters_per_unit_flatten_the_stream_states() -> None:
    before = {"in_msgs": 100, "sessions_kv": {"last_seq": 10, "bytes": 1000}}
    after = {"in_msgs": 600, "sessions_kv": {"last_seq": 110, "bytes": 13_200}}
    assert per_unit(before, after, 100) == {
        "in_msgs": 5.0,
        "sessions_kv.last_seq": 1.0,
        "sessions_kv.bytes": 122.0,
    }


def test_interest_rates_are_per_gateway_deltas_over_the_window() -> None:
    before = {"gw-1": (1_000, 10), "gw-2": (5_000, 50)}
    after = {"gw-1": (57_000, 418), "gw-2": (61_000, 458)}
    byte_rates, msg_rates = received_rates(before, after, 1.0)
    assert byte_rates == [56_000.0, 56_000.0]
    assert msg_rates == [408.0, 408.0]
