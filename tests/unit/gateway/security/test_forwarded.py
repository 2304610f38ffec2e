"""The client address: X-Forwarded-For counts only from trusted proxies, read from the right."""

from __future__ import annotations

import ipaddress

import pytest

from haws.gateway.security.forwarded import client_address, limit_key, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    ("peer", "xff", "client"),
    [
        ("203.0.113.9", [], "203.0.113.9"),
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.2", ["1.2.3.4"], "1.2.3.4"),
        ("10.0.0.2", ["6.6.6.6, 1.2.3.4"], "1.2.3.4"),  # client-written entries on the left
        ("10.0.0.2", ["6.6.6.6, 1.2.3.4, 10.0.0.7"], "1.2.3.4"),  # two trusted hops
        ("10.0.0.2", ["6.6.6.6", "1.2.3.4"], "1.2.3.4"),  # several headers, in order
        ("10.0.0.2", ["10.0.0.9"], "10.0.0.9"),  # only proxies: the leftmost
        ("10.0.0.2", ["garbage"], "10.0.0.2"),
        ("10.0.0.2", ["6.6.6.6, garbage, 10.0.0.3"], "10.0.0.3"),
        ("10.0.0.2", ["1.2.3.4:5678"], "1.2.3.4"),
        ("10.0.0.2", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("::1", ["2001:db8::7"], "2001:db8::7"),
        ("::ffff:10.0.0.2", ["1.2.3.4"], "1.2.3.4"),  # v4-mapped peer is the v4 proxy
        ("10.0.0.2", [], "10.0.0.2"),
    ],
)
def test_client_address(peer: str, xff: list[str], client: str) -> None:
    assert str(client_address(peer, xff, PROXIES)) == client


def test_unknown_peer() -> None:
    assert client_address(None, ["1.2.3.4"], PROXIES) is None
    assert limit_key(None) == "unknown"


def test_ipv6_clients_are_counted_per_64() -> None:
    a = limit_key(ipaddress.ip_address("2001:db8:1:2::1"))
    b = limit_key(ipaddress.ip_address("2001:db8:1:2:ffff::9"))
    c = limit_key(ipaddress.ip_address("2001:db8:1:3::1"))
    assert a == b != c
    assert limit_key(ipaddress.ip_address("1.2.3.4")) == "1.2.3.4"


def test_bad_proxy_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        parse_networks(["10.0.0.0/33"])
