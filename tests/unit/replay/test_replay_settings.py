"""The replay replica's settings: the tail's defaults, off at 0, and refused values."""

from __future__ import annotations

import pytest

from haws.common.settings import SettingsError, load
from haws.replay.node import tails_of
from haws.replay.settings import ReplaySettings


def test_the_tail_is_on_by_default_within_the_stream_s_own_limits() -> None:
    s = load(ReplaySettings, {})
    assert (s.tail_bytes, s.tail_messages) == (64 << 20, 100_000)
    tails = tails_of(s)
    assert tails is not None
    assert tails.limits.max_age_ms == int(s.stream_max_age * 1000)
    narrow = tails_of(load(ReplaySettings, {"HAWS_STREAM_MAX_MSGS_PER_SUBJECT": "500"}))
    assert narrow is not None
    assert narrow.limits.messages == 500, "never longer than the stream keeps a topic"


@pytest.mark.parametrize("name", ["HAWS_TAIL_BYTES", "HAWS_TAIL_MESSAGES"])
def test_zero_turns_the_tail_off(name: str) -> None:
    assert tails_of(load(ReplaySettings, {name: "0"})) is None


@pytest.mark.parametrize(
    "env", [{"HAWS_TAIL_BYTES": "-1"}, {"HAWS_TAIL_MESSAGES": "-5"}, {"HAWS_MAX_INFLIGHT": "0"}]
)
def test_bad_limits_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env)).removeprefix("HAWS_").lower()):
        load(ReplaySettings, env)
