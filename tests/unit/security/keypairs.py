"""Keys and tokens for the security tests: real RS256/ES256 key pairs, forged tokens.

Key pairs are generated once per test run (RSA generation takes a moment).
"""

from __future__ import annotations

import base64
import functools
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from haws.common.tokens import sign_hs256

SECRET = "s3cret-for-tests-only-0123456789abcdef"
"""An HS256 secret long enough for the gateway (>= 32 bytes)."""


@functools.cache
def rsa_key(name: str = "a") -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def ec_key(name: str = "a") -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    """The public half as a JWK (what an identity provider publishes)."""
    if isinstance(key, rsa.RSAPrivateKey):
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    else:
        data = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**data, "kid": kid, "use": "sig"}


def claims(user: str = "alice", ttl: float = 60.0, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": user, "iat": now, "exp": now + int(ttl), **extra}


def grants(sub: list[str], pub: list[str]) -> dict[str, Any]:
    return {"haws": {"sub": sub, "pub": pub}}


def rs256(
    body: dict[str, Any], key: rsa.RSAPrivateKey | None = None, kid: str | None = None
) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(body, key or rsa_key(), algorithm="RS256", headers=headers)


def es256(
    body: dict[str, Any], key: ec.EllipticCurvePrivateKey | None = None, kid: str | None = None
) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(body, key or ec_key(), algorithm="ES256", headers=headers)


def hs256(body: dict[str, Any], secret: str | bytes = SECRET) -> str:
    return sign_hs256(body, secret)


def b64json(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def alg_none(body: dict[str, Any]) -> str:
    """An unsigned token (``alg: none``), as an attacker writes it."""
    return f"{b64json({'alg': 'none', 'typ': 'JWT'})}.{b64json(body)}."


def confused(body: dict[str, Any], key: rsa.RSAPrivateKey | None = None) -> str:
    """Algorithm confusion: HS256 "signed" with the server's RSA public key as secret."""
    return sign_hs256(body, public_pem(key or rsa_key()))


def forged(body: dict[str, Any]) -> str:
    """Signed with a secret the server does not know."""
    return sign_hs256(body, "not-the-secret-not-the-secret-not-the-secret")
