"""The soak's verdicts: a leak shows as a slope, a restart or moved clients do not,
and the sessions bucket is judged against the TTL model, not its raw count."""

from __future__ import annotations

import pytest

from tests.e2e.soak.session_ledger import SessionLedger
from tests.e2e.soak.slopes import Observation, slope_per_minute, within_lifetimes


def lifetime(
    start: float, minutes: float, level: float, per_conn: float, leak: float, conns: list[float]
) -> list[Observation]:
    """Readings every 10 s: ``level + per_conn * connections + leak * minutes``."""
    out = []
    for i, c in enumerate(conns[: int(minutes * 6)]):
        t = start + 10.0 * i
        out.append(Observation(t, level + per_conn * c + leak * (t - start) / 60, c))
    return out


def swinging(n: int) -> list[float]:
    """Connections rising after a restart, then churning up and down."""
    return [min(600.0, 40.0 * i) + (25.0 if i % 3 else -25.0) for i in range(n)]


def test_a_restart_and_clients_coming_back_are_no_slope() -> None:
    lives = [
        lifetime(0, 5, 30, 2.2, 0.0, swinging(30)),
        lifetime(320, 5, 28, 2.2, 0.0, swinging(30)),
        lifetime(40, 9, 31, 2.2, 0.0, list(reversed(swinging(54)))),
    ]
    fit = within_lifetimes(lives)
    assert fit.per_minute == pytest.approx(0.0, abs=1e-6)
    assert fit.per_connection == pytest.approx(2.2)
    # One slope over the readings as they come, restarts and all, would call it growth.
    pooled = sorted((o.at, o.value) for life in lives for o in life)
    assert abs(slope_per_minute(pooled)) > 2.0


def test_a_leak_at_constant_connections_is_its_slope() -> None:
    lives = [
        lifetime(0, 5, 30, 2.2, 3.0, swinging(30)),
        lifetime(320, 5, 28, 2.2, 3.0, swinging(30)),
    ]
    assert within_lifetimes(lives).per_minute == pytest.approx(3.0)


def test_connections_that_never_move_leave_the_plain_slope() -> None:
    life = lifetime(0, 5, 10, 2.0, 1.5, [100.0] * 30)
    fit = within_lifetimes([life, life[:2]])  # a lifetime of 2 readings has no slope
    assert fit.per_minute == pytest.approx(1.5)
    assert fit.per_connection == 0.0
    assert fit.samples == 30


def test_given_up_sessions_count_until_one_ttl_has_passed() -> None:
    ledger = SessionLedger(ttl=120.0)
    ledger.close(10.0, "a")  # given up: a new session took its client's place
    ledger.close(20.0, "b")  # resumed: the same session is up again
    ledger.close(30.0, None)  # never got a session: nothing stored
    live = ["b", "c", None]
    assert ledger.expected(100.0, live) == 3  # b, c up; a given up 90 s ago
    assert ledger.expected(130.0, live) == 2  # a expired at 10 + 120
