"""Origins: exact matches of a normalised allow-list; no Origin is a non-browser client."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from haws.gateway.security.origins import OriginPolicy, normalize_origin


def headers(*origins: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict([("Origin", o) for o in origins]))


POLICY = OriginPolicy(["https://app.example.com", "http://localhost:3000/"])


@pytest.mark.parametrize(
    ("origins", "allowed"),
    [
        ((), True),
        (("https://app.example.com",), True),
        (("http://localhost:3000",), True),
        (("https://app.example.com.evil.com",), False),
        (("https://evil-app.example.com",), False),
        (("https://evilapp.example.com",), False),
        (("http://app.example.com",), False),
        (("https://app.example.com:8443",), False),
        (("https://app.example.co",), False),
        (("null",), False),
        (("",), False),
        (("https://app.example.com", "https://app.example.com"), False),
    ],
)
def test_only_exact_listed_origins_pass(origins: tuple[str, ...], allowed: bool) -> None:
    assert POLICY.allows(headers(*origins)) is allowed


def test_empty_list_refuses_every_browser_but_not_other_clients() -> None:
    policy = OriginPolicy([])
    assert policy.allows(headers())
    assert not policy.allows(headers("https://app.example.com"))


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("https://App.Example.com/", "https://app.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        (" https://x.io ", "https://x.io"),
    ],
)
def test_settings_are_normalised(raw: str, normal: str) -> None:
    assert normalize_origin(raw) == normal


@pytest.mark.parametrize(
    "raw",
    ["null", "*", "https://*.example.com", "app.example.com", "https://a.io/path", "ftp://a.io"],
)
def test_settings_cannot_widen_the_list(raw: str) -> None:
    with pytest.raises(ValueError, match=r"origin|null"):
        normalize_origin(raw)
