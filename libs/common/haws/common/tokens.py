"""The JWT claims haws reads, and HS256 dev tokens for local runs and tests.

Verification lives in the gateway (PyJWT, with explicit algorithms per key).
Minting a dev token only needs HMAC and JSON, so this module stays on the
standard library: ``haws up``, the SDK's tests or a shell can print one without
the gateway's dependencies.

Claims: ``sub`` is the user id; ``haws`` is an object ``{"sub": [...], "pub":
[...]}`` of topic patterns the token grants (``*`` one token, ``>`` the rest).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any, Final

GRANTS_CLAIM: Final = "haws"
"""Private claim holding the grants object."""
SUB_GRANT: Final = "sub"
"""Key of the subscribe patterns (also used for ``presence``) in the grants object."""
PUB_GRANT: Final = "pub"
"""Key of the publish patterns in the grants object."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sign_hs256(
    claims: dict[str, Any], secret: str | bytes, header: dict[str, Any] | None = None
) -> str:
    """A compact HS256 JWS of ``claims`` (the header may add ``kid`` and the like)."""
    key = secret.encode() if isinstance(secret, str) else secret
    head = {"alg": "HS256", "typ": "JWT", **(header or {})}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (head, claims)
    )
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def make_dev_token(
    secret: str | bytes,
    user: str,
    sub: Sequence[str] = (">",),
    pub: Sequence[str] = (">",),
    ttl: float = 3600.0,
    *,
    audience: str | None = None,
    issuer: str | None = None,
    now: float | None = None,
) -> str:
    """An HS256 token for ``user`` granting ``sub``/``pub`` patterns for ``ttl`` seconds.

    For development only: production tokens come from the deployment's identity
    provider, ideally signed with RS256/ES256 so gateways hold no signing secret.
    """
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": user,
        "iat": issued,
        "exp": issued + int(ttl),
        GRANTS_CLAIM: {SUB_GRANT: list(sub), PUB_GRANT: list(pub)},
    }
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    return sign_hs256(claims, secret)
