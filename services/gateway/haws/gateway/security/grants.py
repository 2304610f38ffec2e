"""Who a connection is and which topics it may use: the principal and its grants.

A grant is a topic pattern: tokens separated by ``.`` where ``*`` matches exactly
one token and a final ``>`` matches one or more (NATS subject semantics, so
``chat.>`` covers ``chat.a`` and ``chat.a.b`` but not ``chat``). ``sub`` grants
cover ``sub``, ``presence`` and resumed subscriptions; ``pub`` grants cover
``pub``. Anything not granted is refused: an empty grant list grants nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from haws.common.session_record import TopicState
from haws.common.tokens import GRANTS_CLAIM, PUB_GRANT, SUB_GRANT
from haws.protocol.client_frames import TOPIC_MAX_LEN
from haws.protocol.errors import Forbidden

MAX_PATTERNS: Final = 256
"""Patterns per grant list; a token with more is refused (bounds matching cost)."""
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_\-:]+|\*|>")


def parse_pattern(pattern: object) -> tuple[str, ...]:
    """The pattern's tokens; ``ValueError`` unless it is a valid topic pattern."""
    if not isinstance(pattern, str) or not 0 < len(pattern) <= TOPIC_MAX_LEN:
        raise ValueError(f"grant pattern must be a string of 1-{TOPIC_MAX_LEN} characters")
    tokens = tuple(pattern.split("."))
    for i, token in enumerate(tokens):
        if _TOKEN_RE.fullmatch(token) is None:
            raise ValueError(f"bad grant pattern {pattern!r}")
        if token == ">" and i != len(tokens) - 1:
            raise ValueError(f"bad grant pattern {pattern!r}: '>' must be the last token")
    return tokens


def _matches(pattern: tuple[str, ...], topic: list[str]) -> bool:
    for i, token in enumerate(pattern):
        if token == ">":
            return len(topic) > i
        if i >= len(topic) or (token != "*" and token != topic[i]):
            return False
    return len(topic) == len(pattern)


@dataclass(frozen=True, slots=True)
class Grants:
    sub: tuple[tuple[str, ...], ...] = ()
    pub: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def of(cls, sub: Iterable[str], pub: Iterable[str]) -> Grants:
        return cls(tuple(map(parse_pattern, sub)), tuple(map(parse_pattern, pub)))

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Grants:
        """The ``haws`` claim's grants; a missing claim grants nothing."""
        raw = claims.get(GRANTS_CLAIM)
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ValueError(f"the {GRANTS_CLAIM!r} claim must be an object")
        lists = []
        for key in (SUB_GRANT, PUB_GRANT):
            patterns = raw.get(key, [])
            if not isinstance(patterns, list) or len(patterns) > MAX_PATTERNS:
                raise ValueError(f"{GRANTS_CLAIM}.{key} must be a list of at most {MAX_PATTERNS}")
            lists.append(patterns)
        return cls.of(lists[0], lists[1])

    def may_sub(self, topic: str) -> bool:
        tokens = topic.split(".")
        return any(_matches(p, tokens) for p in self.sub)

    def may_pub(self, topic: str) -> bool:
        tokens = topic.split(".")
        return any(_matches(p, tokens) for p in self.pub)


EVERYTHING: Final = Grants.of([">"], [">"])


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified identity of a connection (``user`` None: anonymous)."""

    user: str | None
    grants: Grants
    expires: float | None = None
    """The token's ``exp`` (seconds since the epoch); None: never."""

    def check_sub(self, topic: str, request_id: int | None) -> None:
        if not self.grants.may_sub(topic):
            raise Forbidden(f"not granted to subscribe to {topic}", request_id=request_id)

    def check_pub(self, topic: str, request_id: int | None) -> None:
        if not self.grants.may_pub(topic):
            raise Forbidden(f"not granted to publish on {topic}", request_id=request_id)


ANONYMOUS: Final = Principal(None, EVERYTHING)
"""Anonymous mode: no identity, every topic."""
NOBODY: Final = Principal(None, Grants())
"""Fail-closed default of a connection nobody authenticated."""


def split_plan(
    plan: dict[str, TopicState], grants: Grants
) -> tuple[dict[str, TopicState], list[str]]:
    """A resume plan's granted topics, and the topics the new token no longer grants."""
    allowed = {t: s for t, s in plan.items() if grants.may_sub(t)}
    return allowed, [t for t in plan if t not in allowed]
