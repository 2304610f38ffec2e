"""``haws consul-acl`` against a real Consul with ACLs on (Debian's 1.8 here).

The same command is compose's one-shot service and the Kubernetes Job: it
makes the haws policies and tokens with the SecretIDs it is given, again and
again without harm, and replaces a token whose secret was rotated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from haws.cluster.consul import ConsulAgent
from haws.cluster.consul_acl import (
    POLICIES,
    ConsulAclError,
    ConsulTokens,
    agent_acl_config,
    apply,
    main,
)
from haws.common import names

HAWS = Path(sys.executable).parent / "haws"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def tokens() -> ConsulTokens:
    return ConsulTokens.generate()


@pytest.fixture(scope="module")
def consul(tmp_path_factory: pytest.TempPathFactory, tokens: ConsulTokens) -> Iterator[ConsulAgent]:
    agent = ConsulAgent(
        tmp_path_factory.mktemp("consul-acl"), acl_management_token=tokens.management
    )
    with agent:
        yield agent


def acl_command(consul: ConsulAgent, tokens: ConsulTokens) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HAWS_CONSUL_HTTP": consul.http_url,
        "HAWS_CONSUL_MANAGEMENT_TOKEN": tokens.management,
        "HAWS_CONSUL_TOKEN_GATEWAY": tokens.gateway,
        "HAWS_CONSUL_TOKEN_DNS": tokens.dns,
        "HAWS_CONSUL_TOKEN_AGENT": tokens.agent,
        "HAWS_CONSUL_TOKEN_API": tokens.api,
        "HAWS_CONSUL_ACL_DEADLINE": "20",
    }
    return subprocess.run(
        [str(HAWS), "consul-acl"], capture_output=True, text=True, timeout=60, env=env
    )


def call(consul: ConsulAgent, token: str, method: str, path: str, body: Any = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        consul.http_url + path, data=data, method=method, headers={"X-Consul-Token": token}
    )
    try:
        with _OPENER.open(request, timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response (and its socket) open
        return int(exc.code)


def register(consul: ConsulAgent, token: str, name: str = names.GATEWAY_SERVICE) -> int:
    body = {"Name": name, "ID": f"{name}-acl-test", "Port": 1, "Check": {"TTL": "30s"}}
    return call(consul, token, "PUT", "/v1/agent/service/register", body)


def test_the_command_makes_every_token_and_can_run_again(
    consul: ConsulAgent, tokens: ConsulTokens
) -> None:
    result = acl_command(consul, tokens)
    assert result.returncode == 0, result.stderr
    assert "policies and tokens in place" in result.stderr
    apply(consul.http_url, tokens)  # compose runs it on every `up`: no harm
    assert register(consul, tokens.gateway) == 200
    assert register(consul, tokens.gateway, name="not-a-gateway") == 403
    assert register(consul, tokens.dns) == 403, "the DNS token only reads"
    assert register(consul, "") == 403, "anonymous requests get the default (read-only) token"
    health = f"/v1/health/service/{names.GATEWAY_SERVICE}"
    assert call(consul, tokens.dns, "GET", health) == 200
    assert call(consul, tokens.api, "GET", health) == 200, "the api lists the gateways"
    assert register(consul, tokens.api) == 403, "the api registers nothing"


def test_a_rotated_token_replaces_the_old_one(consul: ConsulAgent, tokens: ConsulTokens) -> None:
    rotated = replace(tokens, gateway=ConsulTokens.generate().gateway)
    apply(consul.http_url, rotated)
    assert register(consul, rotated.gateway) == 200
    assert register(consul, tokens.gateway) == 403, "the old secret no longer works"
    apply(consul.http_url, tokens)  # back, for the other tests


def test_missing_variables_are_named_and_nothing_is_done(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for variable in [k for k in os.environ if k.startswith("HAWS_CONSUL")]:
        monkeypatch.delenv(variable)
    assert main([]) == 2
    assert "HAWS_CONSUL_MANAGEMENT_TOKEN" in caplog.text


def test_tokens_from_env_and_the_agent_config_of_each_consul_generation() -> None:
    with pytest.raises(ConsulAclError, match=r"HAWS_CONSUL_TOKEN_DNS.*HAWS_CONSUL_TOKEN_API"):
        ConsulTokens.from_env({"HAWS_CONSUL_MANAGEMENT_TOKEN": "m"})
    assert agent_acl_config("t", legacy=True)["acl"]["tokens"] == {"master": "t"}
    modern = agent_acl_config("t", legacy=False)["acl"]
    assert modern["tokens"] == {"initial_management": "t"}
    assert modern["default_policy"] == "deny"
    assert set(POLICIES) == {"haws-gateway", "haws-dns", "haws-agent", "haws-api"}
