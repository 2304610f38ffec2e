"""The bench's per-process CPU split: what each server process spent per unit of work."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.part_meter import CpuSplit, process_name


def _spin(seconds: float) -> None:
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def test_the_work_of_a_window_is_split_by_name_per_unit() -> None:
    me = os.getpid()
    split = CpuSplit([me], {me: "gateway"})
    _spin(0.2)
    split.stop()
    _spin(0.1)  # after the window: not counted
    costs = split.per_unit(100)
    assert set(costs) == {"gateway", "total"}
    # 0.2 s over 100 units is 2,000 us each (the kernel counts in 10 ms ticks).
    assert 1_500 <= costs["gateway"] <= 2_600
    assert costs["total"] == costs["gateway"]


def test_a_process_gone_before_the_end_counts_what_it_used() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    split = CpuSplit([child.pid])
    child.wait(timeout=30)
    split.stop()
    assert min(split.per_unit(1).values()) >= 0.0


def test_a_service_is_named_by_its_telling_word() -> None:
    code = "import sys; print('up', flush=True); sys.stdin.read()"
    argv = [sys.executable, "-c", code, "presence"]
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"up\n"  # running: its command line is set
        assert process_name(child.pid) == "presence"
    finally:
        child.communicate(timeout=30)
    assert process_name(2**22 + 12345) == str(2**22 + 12345)  # no such process
