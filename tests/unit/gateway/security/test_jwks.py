"""Verification keys: JWKS parsing, caching, rotation and the refetch rate limit."""

from __future__ import annotations

from typing import Any

import pytest

from haws.common.logs import get_logger
from haws.gateway.security.auth import JwtAuth, TokenRejected
from haws.gateway.security.jwks import JwksCache, parse_key_set, usable_key
from tests.unit.security import keypairs as kp


class FakeIdp:
    """A JWKS endpoint in memory, with a clock the test moves."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.doc: Any = {"keys": keys}
        self.now = 1000.0
        self.fail = False

    async def fetch(self) -> Any:
        if self.fail:
            raise TimeoutError("idp down")
        return self.doc

    def cache(self, ttl: float = 300.0, min_interval: float = 30.0) -> JwksCache:
        return JwksCache(
            "https://idp/jwks",
            get_logger("test"),
            ttl=ttl,
            min_interval=min_interval,
            timeout=1.0,
            clock=lambda: self.now,
            fetch=self.fetch,
        )


def test_only_asymmetric_signing_keys_are_kept() -> None:
    rsa_jwk = kp.jwk(kp.rsa_key(), "r1")
    ec_jwk = kp.jwk(kp.ec_key(), "e1")
    doc = {
        "keys": [
            rsa_jwk,
            ec_jwk,
            {"kty": "oct", "k": "c2VjcmV0", "kid": "sym"},  # symmetric: anyone could sign
            {**rsa_jwk, "kid": "enc", "use": "enc"},
            {**rsa_jwk, "kid": "mislabelled", "alg": "HS256"},
            {**rsa_jwk, "kid": ""},
            {"kty": "RSA", "kid": "junk", "n": "!!", "e": "AQAB"},
            "not a key",
        ]
    }
    keys = parse_key_set(doc)
    assert sorted(keys) == ["e1", "r1"]
    assert keys["r1"].algorithm_name == "RS256"
    assert keys["e1"].algorithm_name == "ES256"


def test_private_keys_in_a_key_set_are_refused() -> None:
    import json

    import jwt

    private = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(kp.rsa_key()))
    assert usable_key({**private, "kid": "p"}) is None


@pytest.mark.parametrize("doc", [None, [], {"keys": "x"}, {"nokeys": []}])
def test_bad_documents_are_refused(doc: Any) -> None:
    with pytest.raises(ValueError, match="JWKS"):
        parse_key_set(doc)


async def test_unknown_kid_refetches_once_per_interval() -> None:
    idp = FakeIdp([kp.jwk(kp.rsa_key(), "k1")])
    cache = idp.cache(min_interval=30.0)
    assert await cache.key("k1") is not None
    assert cache.fetches == 1
    # A stream of made-up kids costs the provider one fetch per interval, not one each.
    for n in range(50):
        assert await cache.key(f"made-up-{n}") is None
    assert cache.fetches == 1
    idp.now += 31
    assert await cache.key("made-up-again") is None
    assert cache.fetches == 2


async def test_rotation_is_picked_up_on_the_new_kid() -> None:
    idp = FakeIdp([kp.jwk(kp.rsa_key(), "old")])
    auth = JwtAuth(jwks=idp.cache(min_interval=30.0))
    assert (await auth.authenticate(kp.rs256(kp.claims(), kid="old"))).user == "alice"
    new_key = kp.rsa_key("rotated")
    idp.doc = {"keys": [kp.jwk(new_key, "new")]}
    idp.now += 31
    token = kp.rs256(kp.claims("bob"), key=new_key, kid="new")
    assert (await auth.authenticate(token)).user == "bob"
    # The old key left the set: its tokens no longer verify.
    with pytest.raises(TokenRejected):
        await auth.authenticate(kp.rs256(kp.claims(), kid="old"))


async def test_ttl_refetches_and_a_failed_fetch_keeps_the_keys() -> None:
    idp = FakeIdp([kp.jwk(kp.ec_key(), "e1")])
    cache = idp.cache(ttl=60.0, min_interval=10.0)
    assert await cache.key("e1") is not None
    idp.now += 61
    idp.fail = True
    assert await cache.key("e1") is not None  # stale, refetch failed: still served
    assert cache.fetches == 2


async def test_jwks_key_is_bound_to_its_algorithm() -> None:
    idp = FakeIdp([kp.jwk(kp.ec_key(), "e1")])
    auth = JwtAuth(jwks=idp.cache())
    # An RS256 token naming the EC key's kid finds no RS256 key.
    with pytest.raises(TokenRejected) as info:
        await auth.authenticate(kp.rs256(kp.claims(), kid="e1"))
    assert info.value.reason == "algorithm"
    assert (await auth.authenticate(kp.es256(kp.claims(), kid="e1"))).user == "alice"


async def test_a_token_without_kid_needs_a_single_candidate_key() -> None:
    idp = FakeIdp([kp.jwk(kp.rsa_key(), "r1")])
    auth = JwtAuth(jwks=idp.cache())
    await auth.start()
    assert (await auth.authenticate(kp.rs256(kp.claims()))).user == "alice"
    idp.doc = {"keys": [kp.jwk(kp.rsa_key(), "r1"), kp.jwk(kp.rsa_key("b"), "r2")]}
    idp.now += 1000
    await auth.start()
    with pytest.raises(TokenRejected):
        await auth.authenticate(kp.rs256(kp.claims()))
