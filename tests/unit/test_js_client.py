"""The JS packages' own unit tests (``npm test`` in clients/js and clients/react) in make test.

They run on Node's test runner with a fake socket; this wrapper only proves
they ran and passed, and puts their count in pytest's output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parents[2] / "clients"
JS = CLIENTS / "js"
REACT = CLIENTS / "react"
TIMEOUT = 120.0

pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None
    or not (JS / "dist" / "haws.min.js").exists()
    or not (REACT / "dist" / "esm" / "index.js").exists(),
    reason="npm or the built clients/js, clients/react missing: run `make js`",
)


def npm_test(folder: Path) -> tuple[str, int]:
    """The runner's output and how many tests passed; fails the test on any failure."""
    result = subprocess.run(
        ["npm", "test", "--silent"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    passed = re.search(r"^\S*\s*pass (\d+)$", output, re.MULTILINE)
    failed = re.search(r"^\S*\s*fail (\d+)$", output, re.MULTILINE)
    assert passed is not None, output[-2000:]
    assert failed is not None, output[-2000:]
    assert int(failed.group(1)) == 0
    return output, int(passed.group(1))


def test_npm_test_passes_every_sdk_unit_test() -> None:
    output, passed = npm_test(JS)
    assert passed >= 30, output[-2000:]
    assert re.search(r"bytes min\+gzip", output), "the bundle size check ran"


def test_react_hooks_survive_strict_mode() -> None:
    output, passed = npm_test(REACT)
    assert passed >= 4, output[-2000:]
