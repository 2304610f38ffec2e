"""Who is connecting: ``hello.token`` verified as a JWT, or anonymous mode.

Each key has exactly one algorithm, taken from the key itself (an HS256 secret,
an RSA key for RS256, a P-256 key for ES256); a token's ``alg`` only selects
which key to try and must equal that key's algorithm. So ``alg: none`` and
algorithm confusion (an HS256 token whose "secret" is our public key) find no
key and are refused before any signature check. ``exp`` and ``sub`` are
required; ``aud`` and ``iss`` are checked when configured, all with a small
leeway for clock skew.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

import jwt

from haws.common.logs import EventLogger
from haws.common.tokens import make_dev_token
from haws.gateway.security.grants import ANONYMOUS, Grants, Principal
from haws.gateway.security.jwks import JwksCache, load_public_key
from haws.gateway.settings import GatewaySettings
from haws.protocol.errors import Unauthorized

__all__ = ["Authenticator", "TokenRejected", "build_authenticator", "make_dev_token"]

ACCEPTED_ALGORITHMS: Final = frozenset({"HS256", "RS256", "ES256"})
USER_MAX_LEN: Final = 256

_REASONS: Final[list[tuple[type[Exception], str]]] = [
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "audience"),
    (jwt.InvalidIssuerError, "issuer"),
    (jwt.InvalidSignatureError, "signature"),
    (jwt.MissingRequiredClaimError, "claims"),
    (jwt.InvalidAlgorithmError, "algorithm"),
]


class TokenRejected(Unauthorized):
    """A missing or bad token; ``reason`` is the metric label (low cardinality)."""

    def __init__(self, message: str, reason: str, *, request_id: int | None = None) -> None:
        super().__init__(message, request_id=request_id)
        self.reason = reason


class Authenticator(Protocol):
    async def authenticate(self, token: str | None) -> Principal:
        """The token's principal; raises ``TokenRejected`` (close 4001) otherwise."""
        ...

    async def start(self) -> None:
        """Warm up (fetch keys); never fails the node's start."""
        ...

    async def close(self) -> None:
        """Release what ``start`` or use opened."""
        ...


class AnonymousAuth:
    """The local default: tokens are ignored, every connection may use every topic."""

    async def authenticate(self, token: str | None) -> Principal:
        return ANONYMOUS

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class JwtAuth:
    def __init__(
        self,
        *,
        secret: bytes | None = None,
        public_key: tuple[str, Any] | None = None,
        jwks: JwksCache | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        leeway: float = 5.0,
    ) -> None:
        self._secret = secret
        self._public_key = public_key
        self._jwks = jwks
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway
        required = ["exp", "sub"]
        required += ["aud"] if audience else []
        required += ["iss"] if issuer else []
        self._options: Any = {"require": required, "enforce_minimum_key_length": True}

    async def start(self) -> None:
        if self._jwks is not None:
            await self._jwks.refresh()

    async def close(self) -> None:
        if self._jwks is not None:
            await self._jwks.close()

    async def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise TokenRejected("a token is required in hello", "missing")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("the token is not a JWT", "malformed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ACCEPTED_ALGORITHMS:
            raise TokenRejected(f"algorithm {alg!r} is not accepted", "algorithm")
        kid = header.get("kid")
        key = await self._key_for(alg, kid if isinstance(kid, str) else None)
        if key is None:
            raise TokenRejected(f"no key verifies {alg} tokens here", "algorithm")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options=self._options,
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"token refused: {exc}", _reason(exc)) from None
        return principal_of(claims)

    async def _key_for(self, alg: str, kid: str | None) -> Any:
        if alg == "HS256":
            return self._secret
        if self._jwks is not None:
            if kid is not None:
                found = await self._jwks.key(kid)
                if found is not None and found.algorithm_name == alg:
                    return found.key
            elif self._public_key is None:
                # No kid: acceptable only when exactly one key could have signed it.
                candidates = [k for k in self._jwks.all_keys() if k.algorithm_name == alg]
                if len(candidates) == 1:
                    return candidates[0].key
        if self._public_key is not None and self._public_key[0] == alg:
            return self._public_key[1]
        return None


def _reason(exc: Exception) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "invalid"


def principal_of(claims: dict[str, Any]) -> Principal:
    user = claims.get("sub")
    if not isinstance(user, str) or not 0 < len(user) <= USER_MAX_LEN:
        raise TokenRejected(f"sub must be a user id of 1-{USER_MAX_LEN} characters", "claims")
    try:
        grants = Grants.from_claims(claims)
    except ValueError as exc:
        raise TokenRejected(f"bad grants: {exc}", "claims") from None
    return Principal(user, grants, float(claims["exp"]))


def build_authenticator(settings: GatewaySettings, log: EventLogger) -> Authenticator:
    """The authenticator ``auth_mode`` asks for (settings were validated at load)."""
    if settings.auth_mode == "anonymous":
        return AnonymousAuth()
    jwks = None
    if settings.auth_jwks_url:
        jwks = JwksCache(
            settings.auth_jwks_url,
            log,
            ttl=settings.auth_jwks_ttl,
            min_interval=settings.auth_jwks_refetch_interval,
            timeout=settings.request_timeout,
        )
    return JwtAuth(
        secret=settings.auth_hs256_secret.encode() or None,
        public_key=load_public_key(settings.auth_public_key_file)
        if settings.auth_public_key_file
        else None,
        jwks=jwks,
        audience=settings.auth_audience or None,
        issuer=settings.auth_issuer or None,
        leeway=settings.auth_leeway,
    )
