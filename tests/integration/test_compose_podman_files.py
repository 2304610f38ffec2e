"""The files that run docker-compose.yml under podman agree with it (no container started).

``make compose-test`` proves them by running; these catch the drift cheaply in
``make test``: the podman override repeating the compose network, the image
variables the image script writes, the stand-ins' config paths.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
OVERRIDE = ROOT / "deploy" / "podman" / "compose.podman.yml"
PODMAN = ROOT / "deploy" / "podman"
IMAGES_SCRIPT = ROOT / "scripts" / "compose-images.sh"
SCRIPTS = ("compose-images.sh", "install-compose.sh", "debian-source.sh", "install-system.sh")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_the_override_repeats_the_compose_network_and_adds_podmans_ipam_option() -> None:
    network = load(COMPOSE_FILE)["networks"]["default"]
    override = load(OVERRIDE)["networks"]["default"]
    assert override["ipam"]["config"] == network["ipam"]["config"]
    assert override["ipam"]["options"] == {"driver": "host-local"}
    assert set(load(OVERRIDE)) == {"networks"}, "the override changes nothing but the network"


def test_every_image_the_script_builds_is_a_variable_of_the_compose_file() -> None:
    written = set(re.findall(r"^(HAWS_(?:\w+_)?IMAGE)=", IMAGES_SCRIPT.read_text(), re.MULTILINE))
    compose = COMPOSE_FILE.read_text()
    assert {"HAWS_IMAGE", "HAWS_PYTHON_IMAGE"} <= written
    for variable in written:
        assert f"${{{variable}:-" in compose, f"{variable} is not read by docker-compose.yml"


@pytest.mark.parametrize("image", ["nats", "consul", "haproxy"])
def test_each_stand_in_has_its_containerfile_built_by_the_script(image: str) -> None:
    containerfile = PODMAN / f"{image}.Containerfile"
    assert containerfile.exists()
    assert f"deploy/podman/{image}.Containerfile" in IMAGES_SCRIPT.read_text()
    assert "FROM ${BASE_IMAGE}" in containerfile.read_text()


def test_stand_ins_read_the_config_where_compose_mounts_it() -> None:
    services = load(COMPOSE_FILE)["services"]
    haproxy_mount = services["haproxy"]["volumes"][0].split(":")[1]
    assert haproxy_mount in (PODMAN / "haproxy.Containerfile").read_text()
    # nats and consul get their config through compose's `command`, which the
    # stand-ins' entrypoints take as the official ones do.
    assert services["nats-1"]["command"][0].startswith("-")
    assert services["consul"]["command"][0] == "agent"


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_scripts_parse(script: str) -> None:
    result = subprocess.run(
        ["bash", "-n", str(ROOT / "scripts" / script)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
