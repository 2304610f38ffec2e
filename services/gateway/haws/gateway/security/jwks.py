"""Token verification keys: a PEM public key file, or a JWKS URL by ``kid``.

The key decides the algorithm (``algorithm_of``), never the token header.

A JWKS is cached for a TTL and refetched on rotation. An identity provider
rotates keys by publishing the new one before it signs with it, so a ``kid`` we
have not seen means "fetch again" -- but never more often than ``min_interval``,
or a stream of tokens with made-up ``kid``s would turn every gateway into a load
generator against the provider. A failed fetch keeps
the keys we had: a provider outage must not log everybody out.

Only RS256 and ES256 signing keys are kept; symmetric (``oct``) keys in a key set
are ignored, since anyone who can read the URL could sign with them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import aiohttp
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from haws.common.logs import EventLogger
from haws.common.settings import SettingsError

MIN_RSA_BITS: Final = 2048
MAX_JWKS_BYTES: Final = 1 << 20
MAX_KEYS: Final = 100


def usable_key(data: object) -> jwt.PyJWK | None:
    """The JWK as a verification key, or None when haws would not verify with it."""
    if not isinstance(data, dict) or data.get("use", "sig") != "sig":
        return None
    if data.get("kty") not in ("RSA", "EC"):
        return None
    try:
        key = jwt.PyJWK(data)
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    return key if algorithm_of(key.key) == key.algorithm_name else None


def algorithm_of(key: object) -> str | None:
    """The one algorithm haws verifies with this public key, None if none.

    The key decides the algorithm, never the token header: that is what makes
    algorithm confusion (an HS256 token "signed" with a public key) impossible.
    Private keys (published by mistake) are refused too.
    """
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256" if key.key_size >= MIN_RSA_BITS else None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ES256" if isinstance(key.curve, ec.SECP256R1) else None
    return None


def load_public_key(path: str) -> tuple[str, Any]:
    """(algorithm, key) from a PEM public key file: RSA -> RS256, EC P-256 -> ES256."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise SettingsError(f"HAWS_AUTH_PUBLIC_KEY_FILE: cannot load {path}: {exc}") from None
    alg = algorithm_of(key)
    if alg is None:
        raise SettingsError(
            "HAWS_AUTH_PUBLIC_KEY_FILE must hold an RSA (>= 2048 bits) or EC P-256 public key"
        )
    return alg, key


def parse_key_set(doc: object) -> dict[str, jwt.PyJWK]:
    """The usable keys of a JWKS document by ``kid`` (keys without one are skipped)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError("a JWKS document is an object with a 'keys' list")
    keys: dict[str, jwt.PyJWK] = {}
    for item in doc["keys"][:MAX_KEYS]:
        key = usable_key(item)
        kid = item.get("kid") if isinstance(item, dict) else None
        if key is not None and isinstance(kid, str) and kid:
            keys[kid] = key
    return keys


class JwksCache:
    def __init__(
        self,
        url: str,
        log: EventLogger,
        *,
        ttl: float,
        min_interval: float,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        """``fetch`` replaces the HTTP GET (unit tests); it returns the parsed document."""
        self._url = url
        self._log = log
        self._ttl = ttl
        self._min_interval = min_interval
        self._timeout = timeout
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._fetch = fetch or self._get
        self.fetches = 0
        """Fetch attempts so far (tests check the refetch rate limit with it)."""

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key for ``kid``, fetching first when stale or when ``kid`` is new."""
        if self._stale() or (kid not in self._keys and self._may_refetch()):
            await self._refresh(kid)
        return self._keys.get(kid)

    def all_keys(self) -> list[jwt.PyJWK]:
        return list(self._keys.values())

    async def refresh(self) -> None:
        """Fetch now (start-up warm-up); failures are logged, not raised."""
        await self._refresh(None)

    def _stale(self) -> bool:
        if self._fetched_at is None:
            return self._may_refetch()
        return self._clock() - self._fetched_at >= self._ttl and self._may_refetch()

    def _may_refetch(self) -> bool:
        last = self._attempted_at
        return last is None or self._clock() - last >= self._min_interval

    async def _refresh(self, kid: str | None) -> None:
        async with self._lock:
            # Someone else may have fetched while we waited for the lock.
            if kid is not None and kid in self._keys and not self._stale():
                return
            if not self._may_refetch():
                return
            self._attempted_at = self._clock()
            self.fetches += 1
            try:
                keys = parse_key_set(await self._fetch())
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                self._log.warning("auth.jwks_fetch_failed", url=self._url, error=repr(exc))
                return
            self._keys = keys
            self._fetched_at = self._clock()
            self._log.info("auth.jwks_fetched", url=self._url, kids=sorted(keys))

    async def _get(self) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        async with self._session.get(self._url, allow_redirects=False) as resp:
            if resp.status != 200:
                raise ValueError(f"JWKS answered HTTP {resp.status}")
            body = await resp.content.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError("JWKS document over 1 MiB")
        return json.loads(body)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
