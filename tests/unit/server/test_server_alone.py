"""``haws.server`` installs alone: it imports nothing of the server's code."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import haws.server

SDK = Path(haws.server.__file__).resolve().parent
ALLOWED_ROOTS = {"aiohttp", "nats", "jwt", "haws"}


def test_the_server_sdk_imports_only_itself_and_its_dependencies() -> None:
    found: set[str] = set()
    for path in SDK.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
    own = {m for m in found if m.split(".")[0] == "haws"}
    assert all(m.startswith("haws.server") for m in own), own
    third_party = {m.split(".")[0] for m in found} - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party <= ALLOWED_ROOTS, third_party
