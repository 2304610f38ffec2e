"""The canary's and the close linger's settings: defaults, flags, and what is refused."""

from __future__ import annotations

import pytest

from haws.common.settings import SettingsError, load
from haws.gateway.settings import GatewaySettings


def test_defaults_probe_every_second_and_linger_two_seconds() -> None:
    s = load(GatewaySettings, {})
    assert (s.canary_interval, s.canary_bound, s.close_linger) == (1.0, 3.0, 2.0)


def test_flags_and_environment_set_them() -> None:
    env = {"HAWS_CANARY_BOUND": "5", "HAWS_CLOSE_LINGER": "0"}
    s = load(GatewaySettings, env, ["--canary-interval", "0.5"])
    assert (s.canary_interval, s.canary_bound, s.close_linger) == (0.5, 5.0, 0.0)


def test_the_canary_can_be_turned_off() -> None:
    assert load(GatewaySettings, {}, ["--canary-interval", "0"]).canary_interval == 0.0


@pytest.mark.parametrize(("interval", "bound"), [("1", "1"), ("2", "1"), ("-1", "3")])
def test_a_bound_not_longer_than_the_interval_is_refused(interval: str, bound: str) -> None:
    with pytest.raises(SettingsError, match="CANARY"):
        load(GatewaySettings, {}, ["--canary-interval", interval, "--canary-bound", bound])
