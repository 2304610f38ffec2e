"""Short-lived tokens in a browser tab: refreshed over the open socket, never a disconnect.

The cluster's gateways close an unrefreshed connection 1 s after its token's
``exp``; the page's tokens live 3 s, so a connection that outlives a few of
them proves each refresh landed.
"""

from __future__ import annotations

from uuid import uuid4

from tests.e2e.browser.conftest import OpenPage

TOKEN_TTL = "3"
REFRESHES = 4


def test_short_lived_token_is_refreshed_without_a_disconnect(open_page: OpenPage) -> None:
    name = f"t{uuid4().hex[:8]}"
    page = open_page(name, name="short", ttl=TOKEN_TTL)
    other = open_page(name, name="other")
    page.wait(f"hawsDemo.tokens >= {REFRESHES + 1}", timeout=30_000)
    states = [t["state"] for t in page.transitions()]
    assert states == ["connecting", "connected"], "never left the connection"
    ack = other.publish(name, "still here?")
    page.wait_received(name, 1)
    assert page.seqs(name) == [ack["seq"]]
    assert page.errors == []
