"""Tests and benchmarks are code: every ``type: ignore`` there names its error code
and says why on the same line (issue 11), so the next reader can tell a deliberate
hole from a forgotten one. mypy itself enforces the code (``ignore-without-code``)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECKED = ("tests", "bench")
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<rest>.*)$")
EXPLAINED = re.compile(r"^\[[a-z-]+(?:, *[a-z-]+)*\]\s+#\s*\S")


def _mypy_excluded() -> list[re.Pattern[str]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [re.compile(pattern) for pattern in config["tool"]["mypy"].get("exclude", [])]


def test_every_type_ignore_in_tests_and_bench_has_a_code_and_a_reason() -> None:
    excluded = _mypy_excluded()
    unexplained: list[str] = []
    for folder in CHECKED:
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if any(pattern.search(relative) for pattern in excluded):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                found = IGNORE.search(line)
                if found and not EXPLAINED.match(found["rest"]):
                    unexplained.append(f"{relative}:{number}: {line.strip()}")
    assert not unexplained, "\n".join(unexplained)
