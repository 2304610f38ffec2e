"""End-to-end flow control of the load generator's publisher."""

from __future__ import annotations

import asyncio

import pytest

from bench.loadgen.flow import Flow


def test_credit_allows_window_messages_per_subscriber_in_flight() -> None:
    flow = Flow(fanout=10, window=2)
    flow.published = 2
    assert not flow.credit()  # 2 messages x 10 subscribers in flight, none delivered
    flow.add(1)
    assert flow.credit()
    flow.published = 3
    flow.add(10)
    assert flow.credit()  # 30 copies owed, 11 delivered: 19 in flight < 2 x 10
    flow.published = 4
    assert not flow.credit()  # 29 in flight


def test_a_flow_needs_subscribers_and_a_window() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Flow(0, 1)


async def test_delivery_wakes_a_waiting_publisher_only_once_credit_is_back() -> None:
    flow = Flow(fanout=2, window=1)
    flow.published = 2
    waiting = asyncio.create_task(flow.wait(timeout=5.0))
    await asyncio.sleep(0)
    flow.add(1)
    await asyncio.sleep(0)
    assert not waiting.done()  # 3 copies still in flight, the window is 1 x 2
    flow.add(2)
    await asyncio.wait_for(waiting, 1.0)
    assert flow.waiter is None


async def test_wait_returns_after_its_timeout() -> None:
    flow = Flow(fanout=1, window=1)
    await asyncio.wait_for(flow.wait(timeout=0.01), 1.0)
