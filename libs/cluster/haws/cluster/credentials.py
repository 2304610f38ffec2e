"""The secrets of one ``haws up --secure`` run: a NATS password per role, Consul tokens.

Made fresh for every run and written to ``<data-dir>/secure/credentials.json``
(mode 0600) so an operator or a test can log in as any role; they reach each
service through its environment, never its command line.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from haws.cluster.consul_acl import ConsulTokens
from haws.common.broker_config import ROUTE_PASSWORD_VARIABLE
from haws.common.permissions import ROLES, role_for

FILE = Path("secure") / "credentials.json"


def nats_password() -> str:
    """192 random bits as a letter then hex digits: safe as a NATS ``$VARIABLE`` value.

    nats-server parses a variable's value as a config value, so a password that
    starts with a digit or ``-`` is read as a number and the server refuses its
    config (one ``token_urlsafe`` in three did that), and ``+/=`` or ``@`` would
    break the route URLs the passwords also go into.
    """
    return "p" + secrets.token_hex(24)


@dataclass(frozen=True, slots=True)
class ClusterCredentials:
    nats_passwords: dict[str, str]
    """Role name -> password of its NATS user."""
    route_password: str
    consul: ConsulTokens

    @classmethod
    def generate(cls) -> ClusterCredentials:
        return cls(
            nats_passwords={name: nats_password() for name in ROLES},
            route_password=nats_password(),
            consul=ConsulTokens.generate(),
        )

    def nats_env(self, role: str) -> dict[str, str]:
        """The environment a service of ``role`` logs in to NATS with."""
        chosen = role_for(role)
        return {
            "HAWS_NATS_USER": chosen.user,
            "HAWS_NATS_PASSWORD": self.nats_passwords[role],
            "HAWS_NATS_INBOX_PREFIX": chosen.inbox_prefix,
        }

    def gateway_env(self) -> dict[str, str]:
        return {**self.nats_env("gateway"), "HAWS_CONSUL_TOKEN": self.consul.gateway}

    def api_env(self) -> dict[str, str]:
        """The api lists the passing gateways in Consul with a read-only token of its own."""
        return {**self.nats_env("api"), "HAWS_CONSUL_TOKEN": self.consul.api}

    def variables(self) -> dict[str, str]:
        """Every secret under the variable name compose and the NATS config read it by."""
        found = {role_for(name).password_variable: pw for name, pw in self.nats_passwords.items()}
        found[ROUTE_PASSWORD_VARIABLE] = self.route_password
        found["HAWS_CONSUL_MANAGEMENT_TOKEN"] = self.consul.management
        found.update(
            {
                f"HAWS_CONSUL_TOKEN_{policy[5:].upper()}": t
                for policy, t in self.consul.by_policy().items()
            }
        )
        return found

    def document(self) -> dict[str, Any]:
        users = {name: role_for(name).user for name in self.nats_passwords}
        return {**asdict(self), "nats_users": users}

    def write(self, data_dir: Path) -> Path:
        path = data_dir / FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(self.document(), out, indent=2)
        return path
