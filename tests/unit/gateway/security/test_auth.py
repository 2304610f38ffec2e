"""JWT verification: what is accepted, and every way a token is refused."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from haws.common.settings import SettingsError
from haws.common.tokens import make_dev_token
from haws.gateway.security.auth import AnonymousAuth, JwtAuth, TokenRejected
from haws.gateway.security.grants import ANONYMOUS
from haws.gateway.security.jwks import load_public_key
from tests.unit.security import keypairs as kp


def rs_auth(**kwargs: Any) -> JwtAuth:
    return JwtAuth(public_key=("RS256", kp.rsa_key().public_key()), **kwargs)


async def refused(auth: JwtAuth, token: str | None) -> str:
    with pytest.raises(TokenRejected) as info:
        await auth.authenticate(token)
    return info.value.reason


async def test_hs256_token_gives_user_grants_and_expiry() -> None:
    auth = JwtAuth(secret=kp.SECRET.encode())
    body = kp.claims("alice", **kp.grants(["chat.>"], ["chat.*"]))
    principal = await auth.authenticate(kp.hs256(body))
    assert principal.user == "alice"
    assert principal.expires == body["exp"]
    assert principal.grants.may_sub("chat.a.b")
    assert principal.grants.may_pub("chat.a")
    assert not principal.grants.may_pub("chat.a.b")
    assert not principal.grants.may_sub("news.a")


async def test_dev_token_is_verified_by_the_gateway() -> None:
    auth = JwtAuth(secret=kp.SECRET.encode())
    token = make_dev_token(kp.SECRET, "bob", sub=["a.*"], pub=[], ttl=30)
    principal = await auth.authenticate(token)
    assert principal.user == "bob"
    assert principal.grants.may_sub("a.x")
    assert not principal.grants.may_pub("a.x")


async def test_rs256_and_es256_with_their_own_keys() -> None:
    body = kp.claims()
    assert (await rs_auth().authenticate(kp.rs256(body))).user == "alice"
    es = JwtAuth(public_key=("ES256", kp.ec_key().public_key()))
    assert (await es.authenticate(kp.es256(body))).user == "alice"


async def test_public_key_files_give_their_algorithm(tmp_path: Path) -> None:
    rsa_file = tmp_path / "rsa.pem"
    rsa_file.write_bytes(kp.public_pem(kp.rsa_key()))
    ec_file = tmp_path / "ec.pem"
    ec_file.write_bytes(kp.public_pem(kp.ec_key()))
    assert load_public_key(str(rsa_file))[0] == "RS256"
    assert load_public_key(str(ec_file))[0] == "ES256"
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(SettingsError):
        load_public_key(str(junk))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: kp.forged(kp.claims()), "signature"),
        (lambda: kp.hs256(kp.claims(ttl=-60)), "expired"),
        (lambda: kp.hs256(kp.claims(nbf=int(time.time()) + 60)), "not_yet_valid"),
        (lambda: kp.hs256(kp.claims(aud="someone-else")), "audience"),
        (lambda: kp.hs256({"sub": "alice"}), "claims"),  # no exp
        (lambda: kp.hs256({"exp": int(time.time()) + 60}), "claims"),  # no sub
        (lambda: kp.hs256(kp.claims(sub="")), "claims"),
        (lambda: kp.hs256(kp.claims(haws={"sub": ["a.>.b"]})), "claims"),
        (lambda: kp.hs256(kp.claims(haws=["a"])), "claims"),
        (lambda: kp.alg_none(kp.claims()), "algorithm"),
        (lambda: kp.rs256(kp.claims()), "algorithm"),  # no RSA key configured
        (lambda: "not.a.jwt", "malformed"),
        (lambda: "", "missing"),
    ],
)
async def test_bad_tokens_are_refused(make: Any, reason: str) -> None:
    assert await refused(JwtAuth(secret=kp.SECRET.encode()), make()) == reason


async def test_missing_token_is_refused() -> None:
    assert await refused(JwtAuth(secret=kp.SECRET.encode()), None) == "missing"


async def test_leeway_accepts_small_clock_skew_only() -> None:
    auth = JwtAuth(secret=kp.SECRET.encode(), leeway=5.0)
    assert await auth.authenticate(kp.hs256(kp.claims(ttl=-2)))
    assert await auth.authenticate(kp.hs256(kp.claims(nbf=int(time.time()) + 2)))
    assert await refused(auth, kp.hs256(kp.claims(ttl=-30))) == "expired"


async def test_audience_and_issuer_are_required_when_configured() -> None:
    auth = JwtAuth(secret=kp.SECRET.encode(), audience="haws", issuer="https://idp")
    good = kp.claims(aud="haws", iss="https://idp")
    assert (await auth.authenticate(kp.hs256(good))).user == "alice"
    assert await refused(auth, kp.hs256(kp.claims(aud="haws"))) == "claims"
    assert await refused(auth, kp.hs256(kp.claims(aud="other", iss="https://idp"))) == "audience"
    assert await refused(auth, kp.hs256(kp.claims(aud="haws", iss="https://evil"))) == "issuer"


async def test_algorithm_confusion_is_refused() -> None:
    """HS256 'signed' with our RSA public key: no HS256 key, or the wrong one."""
    token = kp.confused(kp.claims())
    assert await refused(rs_auth(), token) == "algorithm"
    both = rs_auth(secret=kp.SECRET.encode())
    assert await refused(both, token) == "signature"


async def test_alg_none_is_refused_even_with_every_key_kind() -> None:
    auth = rs_auth(secret=kp.SECRET.encode())
    for alg in ("none", "None", "NONE", "HS512", "RS512", "PS256", "EdDSA"):
        token = kp.alg_none(kp.claims()).replace(
            kp.alg_none(kp.claims()).split(".")[0], kp.b64json({"alg": alg})
        )
        assert await refused(auth, token) == "algorithm", alg


async def test_rs256_header_on_an_es256_key_is_refused() -> None:
    es = JwtAuth(public_key=("ES256", kp.ec_key().public_key()))
    assert await refused(es, kp.rs256(kp.claims())) == "algorithm"


async def test_token_signed_by_another_rsa_key_is_refused() -> None:
    other = kp.rsa_key("other")
    assert await refused(rs_auth(), kp.rs256(kp.claims(), key=other)) == "signature"


async def test_anonymous_mode_ignores_tokens() -> None:
    assert await AnonymousAuth().authenticate(None) is ANONYMOUS
    assert await AnonymousAuth().authenticate(kp.forged(kp.claims())) is ANONYMOUS
