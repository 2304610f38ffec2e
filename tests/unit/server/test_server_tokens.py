"""``haws.server.token`` mints what the gateway's authenticator accepts."""

from __future__ import annotations

import pytest

from haws.common.logs import get_logger
from haws.gateway.security.auth import build_authenticator
from haws.gateway.settings import GatewaySettings
from haws.server import token

SECRET = "unit-test-secret-of-at-least-32-bytes"


async def test_the_gateway_accepts_the_token_with_its_grants() -> None:
    settings = GatewaySettings(auth_mode="jwt", auth_hs256_secret=SECRET)
    auth = build_authenticator(settings, get_logger("test"))
    minted = token("alice", {"sub": ["chat.>"], "pub": ["chat.lobby"]}, 60, key=SECRET)
    principal = await auth.authenticate(minted)
    assert principal.user == "alice"
    assert principal.expires is not None
    await auth.close()


@pytest.mark.parametrize(
    ("user", "grants", "ttl"), [("", {"sub": []}, 1), ("u", {"sub": []}, 0), ("u", {"x": []}, 1)]
)
def test_bad_arguments_are_refused(user: str, grants: dict[str, list[str]], ttl: float) -> None:
    with pytest.raises(ValueError, match=r"."):
        token(user, grants, ttl, key=SECRET)
