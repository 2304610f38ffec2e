"""``python -m bench`` (``make bench``): run the scenarios, print one table, write JSON.

Options: ``--quick`` (small sizes, a minute or two: checks the harness; ``--size
tiny`` smaller still), ``--presence both|on|off`` (haws with and without the
presence service, side by side by default),
``--only SCENARIO`` (repeatable), ``--system NAME`` (repeatable), ``--profile``
(py-spy on the gateway during fan-out), ``--gateway-arg=--flag=value`` (passed
to every haws gateway, e.g. ``--gateway-arg=--log-level=warning``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import traceback
from typing import Any

from bench import report
from bench.figures import Figure
from bench.lab import PRESENCE_MODES, SYSTEMS, Lab, Options
from bench.machine import SPEED_STEPS, Machine
from bench.scenarios import SCENARIOS
from bench.sizes import FULL, QUICK, TINY
from bench.targets import targets


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, about 1-2 minutes")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SCENARIOS),
        default=[],
        metavar="SCENARIO",
        help=f"run only these: {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--system",
        action="append",
        choices=list(SYSTEMS),
        default=[],
        metavar="NAME",
        help=f"only these systems: {', '.join(SYSTEMS)}",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the haws gateway during an extra fan-out pass",
    )
    parser.add_argument(
        "--gateway-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra flag for every haws gateway (repeatable)",
    )
    parser.add_argument(
        "--presence",
        choices=PRESENCE_MODES,
        default="both",
        help="haws with the presence service (on), without (off), or both side by side",
    )
    parser.add_argument(
        "--size",
        choices=("full", "quick", "tiny"),
        default=None,
        help="full (the targets' sizes), quick (--quick), tiny (seconds: proves a scenario runs)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run folder (logs)")
    return parser.parse_args(argv)  # fmt: skip


def code_version() -> dict[str, Any]:
    """The commit measured, and whether the work tree differed from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}
    return {"commit": commit, "modified": bool(changed)}


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    started = time.time()
    machine = Machine.detect()
    machine.prepare()
    mode = args.size or ("quick" if args.quick else "full")
    sizes = {"full": FULL, "quick": QUICK, "tiny": TINY}[mode]
    options = Options(
        sizes=sizes,
        only=args.only,
        systems=args.system,
        gateway_args=args.gateway_arg,
        profile=args.profile,
        keep_dir=args.keep,
        presence=args.presence,
    )
    lab = Lab(options, machine)
    print(
        f"bench: {machine.nproc} CPUs ({machine.cpu}), Python {machine.python}; {machine.pinning}"
    )
    print(
        f"bench: machine speed {machine.speed_ms:.0f} ms for a fixed {SPEED_STEPS:,}-step "
        "Python loop (lower is faster; absolute figures of two runs compare only at "
        "similar speeds)"
    )
    print(f"bench: {mode} run, files under {lab.data_dir}", flush=True)
    figures: list[Figure] = []
    failures: dict[str, str] = {}
    try:
        for name, scenario in SCENARIOS.items():
            if args.only and name not in args.only:
                continue
            print(f"scenario {name}", flush=True)
            began = time.monotonic()
            try:
                figures += scenario(lab)
            except Exception as exc:  # one broken scenario must not lose the others' figures
                failures[name] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            print(f"scenario {name}: {time.monotonic() - began:.0f} s", flush=True)
    finally:
        lab.close()
    judged = [t.judge(figures) for t in targets(sizes)]
    text = report.table(figures)
    print()
    print(text)
    print(
        "\ntargets (issues 6 and 14):"
        + (f" ({mode} sizes are smaller than the targets')" if mode != "full" else "")
    )
    print(report.verdicts(judged))
    if lab.profiles:
        print()
        print(report.hot_spots(lab.profiles))
    for name, error in failures.items():
        print(f"scenario {name} FAILED: {error}")
    payload: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "mode": mode,
        "argv": sys.argv[1:] if argv is None else argv,
        "machine": machine.describe(),
        "code": code_version(),
        "sizes": {k: getattr(sizes, k) for k in sizes.__dataclass_fields__},
        "figures": [f.as_dict() for f in figures],
        "targets": judged,
        "profiles": [
            {"scenario": p.scenario, "system": p.system, **p.summary} for p in lab.profiles
        ],
        "failures": failures,
        "table": text,
        "markdown": report.markdown(figures),
    }
    path = report.write_json(payload, started)
    print(f"\nbench: {time.time() - started:.0f} s; results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
