"""Seeds, discovered nodes and the failover order (the node that just failed goes last)."""

from __future__ import annotations

import pytest

from haws.client.endpoints import Endpoints, gateways_url

A, B, C = "ws://10.0.0.1:8080/ws", "ws://10.0.0.2:8080/ws", "ws://10.0.0.3:8080/ws"


@pytest.mark.parametrize(
    ("ws", "http"),
    [
        ("ws://h:8080/ws", "http://h:8080/v1/gateways"),
        ("wss://h/ws", "https://h/v1/gateways"),
        ("wss://h/chat/ws", "https://h/chat/v1/gateways"),
        ("ws://h:1/", "http://h:1/v1/gateways"),
    ],
)
def test_gateways_url_is_the_http_form_of_the_ws_url(ws: str, http: str) -> None:
    assert gateways_url(ws) == http


def test_the_failed_node_goes_last() -> None:
    endpoints = Endpoints([A, B, C])
    assert endpoints.order(avoid=A) == [B, C, A]
    assert endpoints.pick(avoid=A) == B
    assert endpoints.order(avoid=B) == [C, A, B]


def test_picks_go_round_robin_after_the_last_pick() -> None:
    endpoints = Endpoints([A, B, C])
    assert [endpoints.pick() for _ in range(4)] == [A, B, C, A]
    assert endpoints.pick(avoid=B) == C


def test_a_single_url_is_used_even_when_it_just_failed() -> None:
    endpoints = Endpoints([A])
    assert endpoints.pick(avoid=A) == A


def test_discovery_adds_nodes_after_the_seeds_and_a_refresh_replaces_them() -> None:
    endpoints = Endpoints([A])
    endpoints.update([A, B, C])
    assert endpoints.urls == [A, B, C]
    endpoints.update([C])  # B drained: gone from Consul's passing list
    assert endpoints.urls == [A, C]
    endpoints.update([])  # seeds are never forgotten
    assert endpoints.urls == [A]


def test_discovered_non_websocket_urls_are_ignored() -> None:
    endpoints = Endpoints([A])
    endpoints.update(["http://10.0.0.9/ws", B, B])
    assert endpoints.urls == [A, B]


@pytest.mark.parametrize("seeds", [[], ["http://h/ws"], [A, "h:80"]])
def test_seeds_must_be_websocket_urls(seeds: list[str]) -> None:
    with pytest.raises(ValueError, match="ws://"):
        Endpoints(seeds)
