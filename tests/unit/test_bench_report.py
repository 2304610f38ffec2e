"""The bench's table and target lines: what ``make bench`` prints for every figure and
every target (presence on and off side by side, ratios, verdicts, why a figure is missing)."""

from __future__ import annotations

from bench import report
from bench.figures import Figure, Role, skipped
from bench.sizes import FULL, QUICK, TINY
from bench.targets import Target, targets


def storm(system: str, value: float | None, role: Role = "subject") -> Figure:
    return Figure("storm-5000", "connect rate", system, value, "conn/s", role=role)


def test_the_table_has_a_presence_on_and_off_row_and_their_ratio() -> None:
    figures = [
        storm("haws", 1800.0),
        storm("haws-nopresence", 2000.0),
        storm("raw-aiohttp", 3000.0, "baseline"),
    ]
    rows = report.rows(figures)
    by_system = {r[2]: r for r in rows}
    assert set(by_system) == {"haws", "haws-nopresence", "raw-aiohttp"}
    assert by_system["haws-nopresence"][4] == "0.90x on/off"
    assert by_system["raw-aiohttp"][4] == "0.60x"
    text = report.table(figures)
    assert "haws-nopresence" in text
    assert "0.90x on/off" in text


def test_a_skipped_figure_says_why_in_the_table() -> None:
    figure = skipped(
        "storm-5000", "connect rate", "haws", "conn/s", "the presence service is not installed",
        role="subject", better="higher",
    )  # fmt: skip
    (row,) = report.rows([figure])
    assert row[3] == "skipped (the presence service is not installed)"


def test_every_target_of_every_size_gets_a_line_even_with_no_figures() -> None:
    for sizes in (FULL, QUICK, TINY):
        all_targets = targets(sizes)
        lines = report.verdicts([t.judge([]) for t in all_targets]).splitlines()
        assert len(lines) == len(all_targets)
        for target, line in zip(all_targets, lines, strict=True):
            assert target.text in line
            assert "[n/a   ]" in line
            assert "not run" in line


def test_a_ratio_target_prints_the_ratio_both_figures_and_the_bound() -> None:
    target = Target("conn/s on >= 0.8x off", "storm-5000", "connect rate", "haws",
                    "haws-nopresence", ">=", 0.8)  # fmt: skip
    met = target.judge([storm("haws", 1800.0), storm("haws-nopresence", 2000.0)])
    line = report.verdict_line(met)
    assert line.startswith("  [MET   ] conn/s on >= 0.8x off: 0.90x")
    assert "haws 1,800 conn/s / haws-nopresence 2,000 conn/s" in line
    assert line.endswith("needs >= 0.8x")
    missed = target.judge([storm("haws", 1000.0), storm("haws-nopresence", 2000.0)])
    assert "[MISSED] conn/s on >= 0.8x off: 0.50x" in report.verdict_line(missed)


def test_an_absolute_target_prints_the_value_with_its_unit() -> None:
    target = Target("caught up <= 2000 ms", "failover-2500", "caught up max", "haws", None,
                    "<=", 2000)  # fmt: skip
    figure = Figure("failover-2500", "caught up max", "haws", 2500.0, "ms", better="lower")
    line = report.verdict_line(target.judge([figure]))
    assert line == "  [MISSED] caught up <= 2000 ms: 2,500 ms; needs <= 2,000 ms"


def test_a_target_whose_figure_was_skipped_says_the_reason() -> None:
    target = Target("conn/s on >= 0.8x off", "storm-5000", "connect rate", "haws",
                    "haws-nopresence", ">=", 0.8)  # fmt: skip
    gone = skipped("storm-5000", "connect rate", "haws-nopresence", "conn/s",
                   "haws did not start: port in use", role="subject", better="higher")  # fmt: skip
    line = report.verdict_line(target.judge([storm("haws", 1800.0), gone]))
    assert "[n/a   ]" in line
    assert "haws-nopresence: haws did not start: port in use" in line
    no_value = Figure("storm-5000", "connect rate", "haws", None, "conn/s")
    assert "n/a: no value" in report.verdict_line(target.judge([no_value]))
