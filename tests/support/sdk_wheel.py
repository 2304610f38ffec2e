"""Building the SDK's wheel the way a user's pip does, for the packaging tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "clients" / "python"
SOURCES = (SDK / "haws" / "client", REPO / "libs" / "protocol" / "haws" / "protocol")
"""Where every file of the wheel's ``haws/`` comes from."""

BUILD_TIMEOUT = 60.0


def build_sdk_wheel(out: Path) -> Path:
    """``pip wheel --no-deps ./clients/python`` into ``out``; the path of the wheel.

    No build isolation and no index: hatchling comes from the dev extra, so the
    build needs no network and takes about two seconds.
    """
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(out),
            str(SDK),
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert built.returncode == 0, f"pip wheel failed:\n{built.stderr}"
    (wheel,) = out.glob("haws_client-*.whl")
    return wheel


def source_files() -> set[str]:
    """The files the wheel must carry, as wheel paths (``haws/client/...``)."""
    return {
        f"haws/{source.name}/{path.relative_to(source).as_posix()}"
        for source in SOURCES
        for path in source.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
