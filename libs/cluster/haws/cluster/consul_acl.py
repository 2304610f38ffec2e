"""Consul ACLs for haws: deny by default, one policy and one token per user of Consul.

``apply`` is idempotent, so ``haws up --secure``, the compose one-shot service and
the Kubernetes Job all run it on every start: it creates (or updates) the
policies from ``haws.common.permissions`` and the tokens with the SecretIDs it
is given, so each service's token can sit in its environment before Consul
has ever run. It also hands the agent its own token and the default token that
DNS lookups (HAProxy) use. Consul 1.8 (Debian) and later speak the same API.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from haws.cluster.errors import ClusterError
from haws.common.permissions import API, CONSUL_AGENT_RULES, CONSUL_DNS_RULES, GATEWAY

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

POLICIES: dict[str, str] = {
    "haws-gateway": GATEWAY.consul,
    "haws-dns": CONSUL_DNS_RULES,
    "haws-agent": CONSUL_AGENT_RULES,
    "haws-api": API.consul,
}
"""Policy name -> rules. Token names below are the same as their one policy."""


class ConsulAclError(ClusterError):
    """Consul refused or did not answer an ACL call."""


@dataclass(frozen=True, slots=True)
class ConsulTokens:
    """The SecretIDs (UUIDs) of the management token and of each haws token."""

    management: str
    gateway: str
    dns: str
    agent: str
    api: str

    @classmethod
    def generate(cls) -> ConsulTokens:
        return cls(*(str(uuid.uuid4()) for _ in fields(cls)))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ConsulTokens:
        names = {
            "management": "HAWS_CONSUL_MANAGEMENT_TOKEN",
            "gateway": "HAWS_CONSUL_TOKEN_GATEWAY",
            "dns": "HAWS_CONSUL_TOKEN_DNS",
            "agent": "HAWS_CONSUL_TOKEN_AGENT",
            "api": "HAWS_CONSUL_TOKEN_API",
        }
        missing = [variable for variable in names.values() if not environ.get(variable)]
        if missing:
            raise ConsulAclError(f"missing {', '.join(missing)}")
        return cls(**{field: environ[variable] for field, variable in names.items()})

    def by_policy(self) -> dict[str, str]:
        return {
            "haws-gateway": self.gateway,
            "haws-dns": self.dns,
            "haws-agent": self.agent,
            "haws-api": self.api,
        }


def agent_acl_config(management: str, *, legacy: bool) -> dict[str, Any]:
    """The ``-dev`` agent's ``acl`` stanza; Consul before 1.11 calls the first token ``master``.

    No token persistence: a dev agent has no data folder and would write
    ``acl-tokens.json`` into its working directory; ``apply`` sets the agent's
    tokens again on every start anyway.
    """
    key = "master" if legacy else "initial_management"
    return {
        "acl": {
            "enabled": True,
            "default_policy": "deny",
            "down_policy": "extend-cache",
            "tokens": {key: management},
        }
    }


def _call(http_url: str, token: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        http_url.rstrip("/") + path, data=data, method=method, headers={"X-Consul-Token": token}
    )
    try:
        with _OPENER.open(request, timeout=5.0) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        try:
            detail = exc.read().decode(errors="replace")[:200]
        finally:
            exc.close()  # the error holds the response's socket
        raise ConsulAclError(f"{method} {path}: {exc.code} {detail}") from exc
    except OSError as exc:
        raise ConsulAclError(f"{method} {path}: {exc!r}") from exc
    return json.loads(raw) if raw else None


def _ensure_policy(http_url: str, token: str, name: str, rules: str) -> None:
    existing = {p["Name"]: p["ID"] for p in _call(http_url, token, "GET", "/v1/acl/policies")}
    body = {"Name": name, "Rules": rules, "Description": "haws: haws.common.permissions"}
    if name in existing:
        _call(http_url, token, "PUT", f"/v1/acl/policy/{existing[name]}", body)
    else:
        _call(http_url, token, "PUT", "/v1/acl/policy", body)


def _ensure_token(http_url: str, token: str, policy: str, secret: str) -> None:
    tokens = _call(http_url, token, "GET", "/v1/acl/tokens")
    if any(t.get("Description") == policy for t in tokens):
        found = [t for t in tokens if t.get("Description") == policy]
        detail = _call(http_url, token, "GET", f"/v1/acl/token/{found[0]['AccessorID']}")
        if detail.get("SecretID") == secret:
            return
        # The secret was rotated in the environment: replace the old token.
        _call(http_url, token, "DELETE", f"/v1/acl/token/{found[0]['AccessorID']}")
    body = {"SecretID": secret, "Description": policy, "Policies": [{"Name": policy}]}
    _call(http_url, token, "PUT", "/v1/acl/token", body)


def apply(http_url: str, tokens: ConsulTokens) -> None:
    """Policies, tokens, then the agent's own and default tokens (idempotent)."""
    for name, rules in POLICIES.items():
        _ensure_policy(http_url, tokens.management, name, rules)
    for policy, secret in tokens.by_policy().items():
        _ensure_token(http_url, tokens.management, policy, secret)
    for kind, secret in (("agent", tokens.agent), ("default", tokens.dns)):
        _call(http_url, tokens.management, "PUT", f"/v1/agent/token/{kind}", {"Token": secret})


APPLY_DEADLINE = 300.0
"""Seconds ``haws consul-acl`` keeps trying while the servers elect a leader."""


def main(argv: Sequence[str] | None = None) -> int:
    """``haws consul-acl``: the compose one-shot service and the Kubernetes Job.

    Reads ``HAWS_CONSUL_HTTP`` and the ``HAWS_CONSUL_*TOKEN*`` variables; retries
    until Consul answers or ``HAWS_CONSUL_ACL_DEADLINE`` seconds have passed.
    """
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="haws consul-acl: %(message)s"
    )
    log = logging.getLogger("haws.consul_acl")
    if argv and argv[0] in ("-h", "--help"):
        print(main.__doc__)
        return 0
    try:
        tokens = ConsulTokens.from_env(os.environ)
    except ConsulAclError as exc:
        log.error("%s", exc)
        return 2
    http_url = os.environ.get("HAWS_CONSUL_HTTP", "http://127.0.0.1:8500")
    deadline = time.monotonic() + float(os.environ.get("HAWS_CONSUL_ACL_DEADLINE", APPLY_DEADLINE))
    while True:
        try:
            apply(http_url, tokens)
        except ConsulAclError as exc:
            if time.monotonic() > deadline:
                log.error("giving up: %s", exc)
                return 1
            log.info("not yet: %s", exc)
            time.sleep(2.0)
            continue
        log.info("policies and tokens in place: %s", ", ".join(POLICIES))
        return 0
