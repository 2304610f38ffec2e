"""The machine-speed figure of a bench run: it times the fixed loop, so a run on a
slower host reads a larger number, and it is carried in the results file."""

from __future__ import annotations

from bench.machine import Machine, speed_ms


def test_more_steps_of_the_loop_read_more_milliseconds() -> None:
    short = speed_ms(rounds=1, steps=50_000)
    long = speed_ms(rounds=1, steps=5_000_000)
    assert 0 < short < long


def test_the_speed_is_part_of_the_machine_described_in_the_results() -> None:
    machine = Machine(nproc=2, cpu="test", python="3.11", platform="linux", speed_ms=61.5)
    assert machine.describe()["speed_ms"] == 61.5
