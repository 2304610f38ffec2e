"""The demo chat in Chromium: two pages talk, see each other, and a refused origin is told why."""

from __future__ import annotations

from uuid import uuid4

from tests.e2e.browser.conftest import OpenPage


def room() -> str:
    return f"t{uuid4().hex[:8]}"


def test_two_pages_exchange_messages_and_see_each_other(open_page: OpenPage) -> None:
    name = room()
    alice = open_page(name, name="alice")
    bob = open_page(name, name="bob")
    for page in (alice, bob):
        page.wait("document.querySelectorAll('#members li').length === 2")
    acks = [alice.publish(name, f"a{i}")["seq"] for i in range(5)]
    acks += [bob.publish(name, f"b{i}")["seq"] for i in range(5)]
    for page in (alice, bob):
        page.wait_received(name, 10)
        assert page.seqs(name) == sorted(acks), "every message once, in seq order"
        assert page.shown_seqs() == sorted(acks)
        assert page.errors == []
    assert alice.status_text().startswith("connected to gw-")
    alice.screenshot("connected")


def test_a_page_on_a_refused_origin_stops_with_the_reason(
    open_page: OpenPage, other_origin: str
) -> None:
    """The same page from an origin the gateways do not list: HTTP 403, told, no retry loop."""
    other = other_origin
    refused = open_page(room(), wait=False, base_url=other)
    refused.wait("hawsDemo.client.state === 'closed'")
    closed = refused.transitions()[-1]
    assert closed["reason"] == "origin_refused"
    assert "HAWS_ALLOWED_ORIGINS" in refused.status_text()
    assert other.rstrip("/") in refused.status_text()
    attempts = [t for t in refused.transitions() if t["state"] == "connecting"]
    assert len(attempts) <= 2, "no retry loop against a refusing origin"
    refused.screenshot("closed-origin-refused")
