"""The JavaScript SDK's own unit tests (``npm test`` in clients/js) as part of ``make test``.

They run on Node's test runner with a fake socket; this wrapper only proves
they ran and passed, and puts their count in pytest's output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "clients" / "js"
TIMEOUT = 120.0

pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None or not (JS / "dist" / "haws.min.js").exists(),
    reason="npm or the built clients/js missing: run `make js`",
)


def test_npm_test_passes_every_sdk_unit_test() -> None:
    result = subprocess.run(
        ["npm", "test", "--silent"],
        cwd=JS,
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
    assert int(passed.group(1)) >= 25, output[-2000:]
    assert int(failed.group(1)) == 0
    assert re.search(r"bytes min\+gzip", output), "the bundle size check ran"
