"""Bearer keys (several at once, read-only ones) and the per-caller rate limit."""

from __future__ import annotations

import pytest

from haws.api.keys import ApiKeys
from haws.api.throttle import Throttle
from haws.protocol.errors import Forbidden, Unauthorized
from tests.support.clock import ManualClock


def test_every_configured_key_is_accepted_and_named_without_the_key() -> None:
    keys = ApiKeys(("new", "old"), ("reader",))
    assert keys.caller("Bearer new").name == "key0"
    assert keys.caller("Bearer old").name == "key1"
    reader = keys.caller("Bearer reader")
    assert reader.read_only
    assert reader.name == "read0"
    keys.check(reader, "history")
    with pytest.raises(Forbidden):
        keys.check(reader, "publish")


@pytest.mark.parametrize("header", [None, "", "new", "Basic new", "Bearer ", "Bearer newx"])
def test_missing_or_wrong_keys_are_unauthorized(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        ApiKeys(("new",)).caller(header)


def test_rate_limit_refills_per_caller() -> None:
    clock = ManualClock()
    throttle = Throttle(rate=10.0, burst=2, clock=clock)
    assert [throttle.take("a") for _ in range(2)] == [0.0, 0.0]
    assert throttle.take("a") == pytest.approx(0.1)
    assert throttle.take("b") == 0.0  # another key has its own bucket
    clock.now += 0.1
    assert throttle.take("a") == 0.0
