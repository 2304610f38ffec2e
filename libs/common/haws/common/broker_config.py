"""NATS server configuration rendered from ``haws.common.permissions``.

The ``authorization`` block (one user per role, its subject permissions, no
anonymous users) is the same text in every topology; only where passwords come
from differs: literal values written by ``haws up --secure`` into a private file,
or ``$HAWS_NATS_PASSWORD_<ROLE>`` references the server resolves from its
environment (compose, Kubernetes Secrets). ``scripts/render_auth.py`` writes the
committed copies; a unit test fails when they drift from this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from haws.common.permissions import ROLES, Role

ROUTE_USER = "haws-route"
"""The user cluster routes authenticate as (servers only; no client rights)."""
ROUTE_PASSWORD_VARIABLE = "HAWS_NATS_ROUTE_PASSWORD"

HEADER = (
    "# Generated from haws.common.permissions by scripts/render_auth.py: do not edit.\n"
    "# One user per haws service; a connection without credentials is refused.\n"
)


def _quoted(items: Iterable[str], indent: str) -> str:
    """One subject a line, so a diff of the committed file shows which right changed."""
    inner = "".join(f"{indent}  {json.dumps(item)}\n" for item in items)
    return f"[\n{inner}{indent}]"


def _password(role: Role, passwords: Mapping[str, str] | None) -> str:
    if passwords is None:
        return "$" + role.password_variable
    return json.dumps(passwords[role.name])


def user_entry(role: Role, passwords: Mapping[str, str] | None = None) -> str:
    lines = [
        "    {",
        f"      user: {json.dumps(role.user)}",
        f"      password: {_password(role, passwords)}",
        "      permissions: {",
        f"        publish: {{ allow: {_quoted(role.publish, '        ')} }}",
        f"        subscribe: {{ allow: {_quoted(role.subscriptions, '        ')} }}",
    ]
    if role.responds:
        # Replies to requests this service received, once each, within 2 s by default.
        lines.append("        allow_responses: true")
    lines += ["      }", "    }"]
    return "\n".join(lines)


def authorization(
    passwords: Mapping[str, str] | None = None, roles: Iterable[Role] | None = None
) -> str:
    """The ``authorization { users: [...] }`` block; ``passwords`` None means env references."""
    chosen = list(roles if roles is not None else ROLES.values())
    users = "\n".join(user_entry(role, passwords) for role in chosen)
    return f"{HEADER}authorization {{\n  users: [\n{users}\n  ]\n}}\n"


def route_authorization(password: str | None = None) -> str:
    """``cluster { authorization { ... } }`` contents: routes must log in too."""
    secret = "$" + ROUTE_PASSWORD_VARIABLE if password is None else json.dumps(password)
    return f"authorization {{ user: {json.dumps(ROUTE_USER)}, password: {secret} }}"
