"""The run's one table (absolute figures and haws/baseline ratios), targets, JSON.

Rows pair each haws figure (subject) with each baseline figure of the same
scenario and metric; a scenario without baselines (failover) gets one row.
``limit`` says which side was saturated during the window, from CPU shares.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.figures import NO_PRESENCE, Figure

RESULTS = Path(__file__).resolve().parent / "results"
NOISY = 0.15
"""Other processes' CPU (plus steal), in cores, above which a figure is flagged."""


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def _limit(figure: Figure) -> str:
    d = figure.details
    if not d:
        return ""
    parts = []
    if "bottleneck" in d and d["bottleneck"] != "neither":
        parts.append(f"{d['bottleneck']}-bound")
    if "server_cpu" in d:
        parts.append(f"srv {d['server_cpu']:.0%} lg {d.get('loadgen_cpu', 0):.0%}")
    if d.get("other_cpu", 0) + d.get("steal", 0) >= NOISY:
        noise = f"other {d['other_cpu']:.0%} ({d.get('other_on_server_core', 0):.0%} on srv core)"
        parts.append(f"NOISY: {noise}, steal {d.get('steal', 0):.0%}")
    if d.get("lost"):
        parts.append(f"lost {d['lost']}")
    if d.get("duplicates"):
        parts.append(f"dup {d['duplicates']}")
    if d.get("subscribers_closed"):
        codes = ", ".join(f"{n}x {code}" for code, n in d.get("close_codes", {}).items())
        parts.append(f"{d['subscribers_closed']} subscribers closed ({codes})")
    if "resumed_true" in d:
        parts.append(f"welcome resumed:true {d['resumed_true']}/{d.get('clients', '?')}")
    if d.get("not_caught_up"):
        parts.append(f"{d['not_caught_up']} not caught up in {d.get('observed_s')} s")
    if d.get("publish_stalls"):
        parts.append(f"stalls {d['publish_stalls']}")
    return ", ".join(parts)


def _presence_twin(figure: Figure, group: Sequence[Figure]) -> Figure | None:
    """The presence-on figure a presence-off row is compared with (same scenario, metric)."""
    if not figure.system.endswith(NO_PRESENCE):
        return None
    on = figure.system.removesuffix(NO_PRESENCE)
    return next((f for f in group if f.system == on), None)


def rows(figures: Sequence[Figure]) -> list[list[str]]:
    """One row per figure; ``haws/this`` divides the scenario's first haws figure
    (plain haws, or 3 gateways in the cluster scenario) by this row's value, and
    on a presence-off row (``...-nopresence``) the presence-on twin by this row."""
    out: list[list[str]] = []
    groups: dict[tuple[str, str], list[Figure]] = {}
    for figure in figures:
        groups.setdefault((figure.scenario, figure.metric), []).append(figure)
    for (scenario, metric), group in groups.items():
        reference = next((f for f in group if f.role == "subject"), None)
        for f in group:
            value = fmt(f.value, f.unit) if f.skipped is None else f"skipped ({f.skipped})"
            ratio = "-"
            if f.role == "baseline" and reference is not None and reference.value and f.value:
                ratio = f"{reference.value / f.value:.2f}x"
            twin = _presence_twin(f, group)
            if twin is not None and twin.value and f.value:
                ratio = f"{twin.value / f.value:.2f}x on/off"
            out.append([scenario, metric, f.system, value, ratio, _limit(f)])
    return out


HEADER = ["scenario", "metric", "system", "value", "haws/this", "limit / notes"]


def table(figures: Sequence[Figure]) -> str:
    body = rows(figures)
    cells = [HEADER, *body]
    widths = [min(60, max(len(r[i]) for r in cells)) for i in range(len(HEADER) - 1)]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]

    rule = "  ".join("-" * w for w in widths) + "  " + "-" * 13
    return "\n".join([line(HEADER), rule, *(line(r) for r in body)])


def markdown(figures: Sequence[Figure]) -> str:
    """The same table as Markdown, for ``docs/performance.md``."""
    body = rows(figures)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in body]
    return "\n".join(lines)


def verdicts(judged: Sequence[dict[str, Any]]) -> str:
    """One line per target: verdict, the value (a ratio says what it divides), the
    bound; a target without a value says why (not run, skipped and the reason)."""
    return "\n".join(verdict_line(v) for v in judged)


def verdict_line(v: Mapping[str, Any]) -> str:
    mark = {"met": "MET   ", "missed": "MISSED", "n/a": "n/a   "}[v["verdict"]]
    needs = ""
    if "op" in v:
        number = float(v["bound"])
        text = f"{number:,.0f}" if number.is_integer() else f"{number:g}"
        bound = f"{text}x" if v.get("ratio") else f"{text} {v.get('unit', '')}".rstrip()
        needs = f"needs {v['op']} {bound}"
    if v["value"] is None:
        detail = f"n/a: {v.get('why') or 'no value'}"
    elif v.get("ratio") and "baseline_value" in v:
        unit = v.get("unit", "")
        detail = (
            f"{v['value']:.2f}x ({v['subject']} {fmt(v['subject_value'], unit)} / "
            f"{v['baseline']} {fmt(v['baseline_value'], unit)})"
        )
    else:
        detail = fmt(v["value"], v.get("unit", ""))
    return f"  [{mark}] {v['target']}: {detail}" + (f"; {needs}" if needs else "")


def hot_spots(profiles: Sequence[Any], top: int = 12) -> str:
    lines = []
    for p in profiles:
        summary = p.summary
        if "skipped" in summary:
            lines.append(f"profile {p.scenario} {p.system}: skipped ({summary['skipped']})")
            continue
        lines.append(f"profile {p.scenario} {p.system}: {summary['samples']} samples on CPU")
        for title, key in (
            ("self time by line", "self_by_line"),
            ("inclusive by function", "inclusive_by_function"),
        ):
            lines.append(f"  {title}:")
            lines += [f"    {e['percent']:5.1f}%  {e['where']}" for e in summary[key][:top]]
    return "\n".join(lines)


def write_json(payload: dict[str, Any], started: float) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(started))}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
