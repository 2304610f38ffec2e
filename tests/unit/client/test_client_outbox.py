"""The outbox: bounded, re-sends everything unanswered in order, delays retries."""

from __future__ import annotations

import pytest

from haws.client.outbox import Outbox, Request
from haws.client.types import OutboxFull


def pub(rid: int, bounded: bool = True) -> Request:
    return Request(rid, {"op": "pub", "id": rid}, b"{}", bounded=bounded)


def ids(requests: list[Request]) -> list[int]:
    return [r.id for r in requests]


def test_the_bound_refuses_one_more_publish_and_frees_on_reply() -> None:
    outbox = Outbox(limit=2)
    outbox.add(pub(1))
    outbox.add(pub(2))
    with pytest.raises(OutboxFull):
        outbox.add(pub(3))
    outbox.add(pub(4, bounded=False))  # the SDK's own requests never fail for room
    assert outbox.pop(1) is not None
    outbox.add(pub(5))
    assert len(outbox) == 3


def test_restart_sends_every_unanswered_request_again_in_order() -> None:
    outbox = Outbox(limit=10)
    for rid in (1, 2, 3):
        outbox.add(pub(rid))
    assert ids(outbox.take_ready(0.0)) == [1, 2, 3]
    assert outbox.take_ready(0.0) == []
    outbox.pop(2)
    outbox.restart()
    assert ids(outbox.take_ready(0.0)) == [1, 3]


def test_a_retry_waits_for_its_time() -> None:
    outbox = Outbox(limit=10)
    outbox.add(pub(1))
    request = outbox.take_ready(0.0)[0]
    outbox.changed.clear()
    outbox.retry_later(request, at=5.0)
    assert outbox.changed.is_set()
    assert outbox.next_retry_at() == 5.0
    assert outbox.take_ready(4.9) == []
    assert ids(outbox.take_ready(5.0)) == [1]
    assert outbox.next_retry_at() is None


def test_abandoned_requests_are_not_sent() -> None:
    outbox = Outbox(limit=10)
    outbox.add(pub(1))
    outbox.add(pub(2))
    outbox.pop(1)
    assert ids(outbox.take_ready(0.0)) == [2]
    assert ids(outbox.clear()) == [2]
    assert len(outbox) == 0
