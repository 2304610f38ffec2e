"""The SDK's wheel: what it requires, what it carries, and that nothing in it reaches
for the server side (issue 11: an app that wants ``haws.client`` gets aiohttp and
msgpack, nothing else)."""

from __future__ import annotations

import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.support.sdk_wheel import (
    REPO,
    build_sdk_wheel,
    imported_roots,
    source_files,
    wheel_metadata,
)

ALLOWED_IMPORTS = {"aiohttp", "msgpack", "orjson", "haws.client", "haws.protocol"}
"""Top-level imports the wheel's modules may make besides the standard library."""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sdk_wheel(tmp_path_factory.mktemp("sdk-wheel"))


def test_requires_only_aiohttp_and_msgpack_orjson_as_extra(wheel: Path) -> None:
    metadata = wheel_metadata(wheel)
    assert metadata["Name"] == "haws-client"
    assert sorted(metadata.get_all("Requires-Dist") or []) == [
        "aiohttp>=3.9",
        "msgpack>=1.0",
        "orjson>=3.9; extra == 'fast'",
    ]


def test_carries_the_sdk_and_the_protocol_layer_and_nothing_else(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    shipped = {n for n in names if ".dist-info/" not in n}
    assert shipped == source_files()
    assert {"haws/client/py.typed", "haws/protocol/py.typed"} <= shipped
    assert "haws/__init__.py" not in shipped, "haws is a namespace shared with the server"


def test_imports_nothing_server_side(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        modules = {n: archive.read(n).decode() for n in archive.namelist() if n.endswith(".py")}
    assert modules
    for name, source in modules.items():
        foreign = imported_roots(source) - ALLOWED_IMPORTS - sys.stdlib_module_names
        assert not foreign, f"{name} imports {sorted(foreign)}"


def test_the_server_requires_this_very_sdk_version(wheel: Path) -> None:
    """One repository, two distributions: a version bump on one side alone would make
    ``make install`` resolve the SDK from an index instead of the folder."""
    version = wheel_metadata(wheel)["Version"]
    server = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert f"haws-client=={version}" in server["dependencies"]
