"""Connection counts per node, address and user; leases release exactly once."""

from __future__ import annotations

import pytest

from haws.gateway.security.conn_limits import ConnectionLimits, LimitExceeded


def test_node_limit() -> None:
    limits = ConnectionLimits(per_node=2, per_address=0, per_user=0)
    a, _ = limits.open("1.1.1.1"), limits.open("2.2.2.2")
    with pytest.raises(LimitExceeded) as info:
        limits.open("3.3.3.3")
    assert info.value.kind == "node"
    a.release()
    a.release()  # idempotent
    limits.open("3.3.3.3")
    assert limits.total == 2


def test_address_limit_is_per_address() -> None:
    limits = ConnectionLimits(per_node=0, per_address=2, per_user=0)
    leases = [limits.open("1.1.1.1") for _ in range(2)]
    with pytest.raises(LimitExceeded) as info:
        limits.open("1.1.1.1")
    assert info.value.kind == "address"
    limits.open("2.2.2.2")
    for lease in leases:
        lease.release()
    assert limits.connections_of("1.1.1.1") == 0


def test_user_limit_counts_claimed_users_only() -> None:
    limits = ConnectionLimits(per_node=0, per_address=0, per_user=1)
    first = limits.open("a")
    first.claim_user("alice")
    second = limits.open("a")
    second.claim_user(None)  # anonymous: not counted
    third = limits.open("a")
    with pytest.raises(LimitExceeded) as info:
        third.claim_user("alice")
    assert info.value.kind == "user"
    third.claim_user("bob")
    first.release()
    limits.open("a").claim_user("alice")


def test_compression_slots_are_capped_and_returned() -> None:
    limits = ConnectionLimits(per_node=0, per_address=0, per_user=0, compressed=1)
    a, b = limits.open("x"), limits.open("x")
    assert a.reserve_compression()
    assert not b.reserve_compression()
    a.release()
    assert limits.compressed == 0
    assert b.reserve_compression()


def test_zero_means_unlimited() -> None:
    limits = ConnectionLimits(per_node=0, per_address=0, per_user=0)
    for _ in range(1000):
        limits.open("x").claim_user("u")
    assert limits.total == 1000
