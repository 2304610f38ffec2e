"""Dev tokens are standard HS256 JWTs that PyJWT verifies."""

from __future__ import annotations

import jwt

from haws.common.tokens import make_dev_token
from tests.unit.security.keypairs import SECRET


def test_dev_token_is_a_standard_jwt() -> None:
    token = make_dev_token(SECRET, "carol", sub=["a.>"], pub=["a.b"], ttl=60, now=1000.0)
    claims = jwt.decode(
        token, SECRET, algorithms=["HS256"], options={"verify_exp": False}, audience=None
    )
    assert claims == {
        "sub": "carol",
        "iat": 1000,
        "exp": 1060,
        "haws": {"sub": ["a.>"], "pub": ["a.b"]},
    }
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}


def test_audience_and_issuer_are_optional_claims() -> None:
    token = make_dev_token(SECRET, "dan", audience="haws", issuer="dev")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="haws", issuer="dev")
    assert claims["aud"] == "haws"
    assert claims["iss"] == "dev"
