"""Client tokens: a JWT the gateways accept in ``hello.token``.

The key is the one the gateways verify with: an HS256 secret
(``HAWS_AUTH_HS256_SECRET``), or the private half of the RS256/ES256 key whose
public half they hold (then pass ``kid`` if they use a JWKS).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

GRANTS_CLAIM = "haws"


def token(
    user: str,
    grants: Mapping[str, Sequence[str]],
    ttl: float,
    *,
    key: str | bytes,
    algorithm: str = "HS256",
    kid: str | None = None,
    audience: str | None = None,
    issuer: str | None = None,
    now: float | None = None,
) -> str:
    """A token for ``user`` with ``grants`` (``{"sub": [...], "pub": [...]}`` topic
    patterns: ``*`` one token, ``>`` the rest) valid for ``ttl`` seconds."""
    if not user:
        raise ValueError("user must not be empty")
    if ttl <= 0:
        raise ValueError("ttl must be > 0")
    unknown = set(grants) - {"sub", "pub"}
    if unknown:
        raise ValueError(f"grants take sub and pub only, not {sorted(unknown)}")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": user,
        "iat": issued,
        "exp": issued + int(ttl),
        GRANTS_CLAIM: {name: list(patterns) for name, patterns in grants.items()},
    }
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)
