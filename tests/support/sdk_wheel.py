"""Building the SDKs' wheels the way a user's pip does, for the packaging tests."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "clients" / "python"
SERVER_SDK = REPO / "clients" / "server"
SOURCES = (SDK / "haws" / "client", REPO / "libs" / "protocol" / "haws" / "protocol")
"""Where every file of the wheel's ``haws/`` comes from."""

BUILD_TIMEOUT = 60.0


def build_sdk_wheel(out: Path) -> Path:
    """``pip wheel --no-deps ./clients/python`` into ``out``; the path of the wheel."""
    return build_wheel(SDK, "haws_client", out)


def build_wheel(project: Path, distribution: str, out: Path) -> Path:
    """``pip wheel --no-deps <project>`` into ``out``; the path of the wheel.

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
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert built.returncode == 0, f"pip wheel failed:\n{built.stderr}"
    (wheel,) = out.glob(f"{distribution}-*.whl")
    return wheel


def source_files(sources: tuple[Path, ...] = SOURCES) -> set[str]:
    """The files a wheel must carry, as wheel paths (``haws/client/...``)."""
    return {
        f"haws/{source.name}/{path.relative_to(source).as_posix()}"
        for source in sources
        for path in source.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def wheel_metadata(wheel: Path) -> Message:
    """The wheel's ``METADATA``: name, version, ``Requires-Dist``."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(name).decode())


def imported_roots(source: str) -> set[str]:
    """What a module imports, by top package (``haws.<package>`` for haws' own)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            roots.add(".".join(parts[:2]) if parts[0] == "haws" else parts[0])
    return roots
