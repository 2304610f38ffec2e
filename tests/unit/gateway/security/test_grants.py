"""Grant patterns: ``*`` is one token, a final ``>`` the rest; nothing else widens."""

from __future__ import annotations

import pytest

from haws.common.session_record import TopicState
from haws.gateway.security.grants import (
    ANONYMOUS,
    NOBODY,
    Grants,
    Principal,
    parse_pattern,
    split_plan,
)
from haws.protocol.errors import Forbidden


@pytest.mark.parametrize(
    ("pattern", "topic", "match"),
    [
        ("chat.room", "chat.room", True),
        ("chat.room", "chat.room2", False),
        ("chat.room", "chat", False),
        ("chat.*", "chat.a", True),
        ("chat.*", "chat.a.b", False),
        ("chat.*", "chat", False),
        ("*.inbox", "user:42.inbox", True),
        ("*.inbox", "inbox", False),
        ("chat.>", "chat.a", True),
        ("chat.>", "chat.a.b.c", True),
        ("chat.>", "chat", False),
        ("chat.>", "chatroom.a", False),
        (">", "anything.at.all", True),
        ("a.*.c.>", "a.b.c.d", True),
        ("a.*.c.>", "a.b.x.d", False),
        ("user:42.>", "user:421.x", False),
    ],
)
def test_pattern_matching(pattern: str, topic: str, match: bool) -> None:
    assert Grants.of([pattern], []).may_sub(topic) is match
    assert Grants.of([], [pattern]).may_pub(topic) is match


@pytest.mark.parametrize(
    "pattern", ["", "a..b", ".a", "a.", "a.>.b", "a*", "a.b*", ">>", "a b", 5, "x" * 201]
)
def test_invalid_patterns_are_refused(pattern: object) -> None:
    with pytest.raises(ValueError, match="pattern"):
        parse_pattern(pattern)


def test_claims_without_grants_grant_nothing() -> None:
    grants = Grants.from_claims({"sub": "a"})
    assert not grants.may_sub("a")
    assert not grants.may_pub("a")


def test_sub_and_pub_grants_are_separate() -> None:
    grants = Grants.from_claims({"haws": {"sub": ["news.>"]}})
    assert grants.may_sub("news.x")
    assert not grants.may_pub("news.x")


@pytest.mark.parametrize("claim", ["x", ["a"], {"sub": "a.>"}, {"pub": [1]}, {"sub": ["a"] * 257}])
def test_malformed_grant_claims_are_refused(claim: object) -> None:
    with pytest.raises(ValueError, match=r"pattern|must be"):
        Grants.from_claims({"haws": claim})


def test_principal_checks_raise_forbidden_with_the_request_id() -> None:
    alice = Principal("alice", Grants.of(["a.*"], ["a.mine"]))
    alice.check_sub("a.x", 1)
    with pytest.raises(Forbidden) as info:
        alice.check_pub("a.x", 7)
    assert info.value.request_id == 7
    ANONYMOUS.check_pub("anything", None)
    with pytest.raises(Forbidden):
        NOBODY.check_sub("anything", None)


def test_resume_plan_keeps_only_granted_topics() -> None:
    plan = {"a.x": TopicState(3), "b.y": TopicState(5, presence=True)}
    allowed, denied = split_plan(plan, Grants.of(["a.>"], []))
    assert allowed == {"a.x": TopicState(3)}
    assert denied == ["b.y"]
