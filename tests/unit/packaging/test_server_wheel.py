"""The server SDK's wheel: it carries ``haws.server`` alone and takes the names and the
lifecycle event type from ``haws.protocol`` through the client SDK's distribution, so
no two wheels ship the same file and nothing server-side comes with it."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.sdk_wheel import (
    SERVER_SDK,
    build_sdk_wheel,
    build_wheel,
    imported_roots,
    source_files,
    wheel_metadata,
)

ALLOWED_IMPORTS = {"aiohttp", "nats", "jwt", "haws.server", "haws.protocol"}
"""Top-level imports the wheel's modules may make besides the standard library."""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The server SDK's wheel and the client SDK's it requires."""
    out = tmp_path_factory.mktemp("server-wheel")
    return build_wheel(SERVER_SDK, "haws_server", out), build_sdk_wheel(out)


def test_requires_the_client_sdk_of_this_very_version_and_the_backend_s_libraries(
    wheels: tuple[Path, Path],
) -> None:
    server, client = wheels
    metadata = wheel_metadata(server)
    assert metadata["Name"] == "haws-server"
    assert sorted(metadata.get_all("Requires-Dist") or []) == [
        "aiohttp>=3.9",
        f"haws-client=={wheel_metadata(client)['Version']}",
        "nats-py>=2.9",
        "pyjwt[crypto]>=2.8",
    ]


def test_carries_haws_server_and_no_file_of_the_client_sdk(wheels: tuple[Path, Path]) -> None:
    server, client = wheels
    with zipfile.ZipFile(server) as archive:
        shipped = {n for n in archive.namelist() if ".dist-info/" not in n}
    assert shipped == source_files((SERVER_SDK / "haws" / "server",))
    assert "haws/server/py.typed" in shipped, "a backend's mypy reads the SDK's hints"
    assert "haws/__init__.py" not in shipped, "haws is a namespace shared with the client SDK"
    with zipfile.ZipFile(client) as archive:
        assert not shipped & set(archive.namelist()), "two wheels would own one file"


def test_imports_only_its_libraries_and_the_protocol_layer(wheels: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(wheels[0]) as archive:
        modules = {n: archive.read(n).decode() for n in archive.namelist() if n.endswith(".py")}
    assert modules
    for name, source in modules.items():
        foreign = imported_roots(source) - ALLOWED_IMPORTS - sys.stdlib_module_names
        assert not foreign, f"{name} imports {sorted(foreign)}"
