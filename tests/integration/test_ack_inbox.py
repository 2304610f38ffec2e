"""``AckInbox`` on a real nats-server: JetStream's acks, through the raw tap and without it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import StreamConfig

from haws.common import raw_replies
from haws.common.ack_inbox import AckInbox
from tests.support.reconnecting_client import reconnecting_client
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(params=["tapped", "untapped"])
def tapped(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both ways acks arrive: the raw tap, and nats-py's ordinary subscription when the
    installed nats-py has no hook for the tap."""
    if request.param == "untapped":
        monkeypatch.setattr(raw_replies, "tap_for", lambda nc: None)
    return bool(request.param == "tapped")


@pytest.fixture
async def stream(shared_nats: Any) -> AsyncIterator[tuple[NatsClient, str]]:
    """A client and the subject prefix of a stream of this test's own."""
    nc = await nats.connect(shared_nats.url)
    js = nc.jetstream(timeout=5)
    name = f"ACKS_{uuid.uuid4().hex[:8]}"
    prefix = f"acks.{name}"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{prefix}.>"]))
    try:
        yield nc, prefix
    finally:
        await js.delete_stream(name)
        await nc.close()


async def started(nc: NatsClient) -> AckInbox:
    acks = AckInbox(nc)
    await acks.start()
    return acks


async def test_each_publish_gets_its_own_sequence(
    tapped: bool, stream: tuple[NatsClient, str]
) -> None:
    nc, prefix = stream
    acks = await started(nc)
    assert acks.tapped == tapped
    try:
        seqs = await asyncio.gather(
            *(acks.publish(f"{prefix}.a", str(i).encode(), None, 5) for i in range(50))
        )
        assert sorted(seqs) == list(range(1, 51))
        stored = await nc.jetstream().get_last_msg(prefix.split(".")[1], f"{prefix}.a")
        assert stored.seq == 50
    finally:
        await acks.stop()


async def test_a_repeated_msg_id_comes_back_as_the_original_marked_duplicate(
    tapped: bool, stream: tuple[NatsClient, str]
) -> None:
    nc, prefix = stream
    acks = await started(nc)
    try:
        headers = {"Nats-Msg-Id": "m-1"}
        assert await acks.publish_once(f"{prefix}.a", b"x", headers, 5) == (1, False)
        assert await acks.publish_once(f"{prefix}.a", b"other", headers, 5) == (1, True)
        assert await acks.publish_once(f"{prefix}.a", b"y", {"Nats-Msg-Id": "m-2"}, 5) == (
            2,
            False,
        )
    finally:
        await acks.stop()


async def test_a_refused_write_raises_the_api_error(
    tapped: bool, stream: tuple[NatsClient, str]
) -> None:
    nc, prefix = stream
    acks = await started(nc)
    try:
        await acks.publish(f"{prefix}.a", b"x", None, 5)
        wrong = {"Nats-Expected-Last-Subject-Sequence": "7"}
        with pytest.raises(nats.js.errors.APIError) as refused:
            await acks.publish(f"{prefix}.a", b"y", wrong, 5)
        assert refused.value.err_code == 10071  # wrong last sequence
    finally:
        await acks.stop()


async def test_no_stream_fails_at_once(tapped: bool, stream: tuple[NatsClient, str]) -> None:
    nc, _ = stream
    acks = await started(nc)
    try:
        began = time.monotonic()
        with pytest.raises(nats.js.errors.NoStreamResponseError):
            await acks.publish(f"nostream.{uuid.uuid4().hex[:8]}", b"x", None, 30)
        assert time.monotonic() - began < 5  # the server's 503, not the 30 s timeout
    finally:
        await acks.stop()


async def test_an_ack_that_never_comes_times_out_as_nats_py_does(
    tapped: bool, stream: tuple[NatsClient, str]
) -> None:
    """A subscriber that never answers stands for a stream that stored nothing and
    said nothing; the error is nats-py's (``JetStreamContext.publish`` raised it too)."""
    nc, _ = stream
    subject = f"silent.{uuid.uuid4().hex[:8]}"
    heard: list[bytes] = []

    async def swallow(msg: Any) -> None:
        heard.append(msg.data)

    sub = await nc.subscribe(subject, cb=swallow)
    acks = await started(nc)
    try:
        with pytest.raises(nats.errors.TimeoutError):
            await acks.publish(subject, b"x", None, 0.3)
        assert heard == [b"x"]
        assert not acks._waiting  # nothing left behind for an ack that may still come
    finally:
        await acks.stop()
        await sub.unsubscribe()


async def test_stop_fails_the_waiting_publishes_and_refuses_new_ones(
    tapped: bool, stream: tuple[NatsClient, str]
) -> None:
    nc, _ = stream
    subject = f"silent.{uuid.uuid4().hex[:8]}"
    sub = await nc.subscribe(subject)  # keeps the publish waiting for an ack
    acks = await started(nc)
    waiting = asyncio.create_task(acks.publish(subject, b"x", None, 30))
    await eventually(lambda: bool(acks._waiting), message="publish waiting")
    await acks.stop()
    with pytest.raises(nats.errors.ConnectionClosedError):
        await asyncio.wait_for(waiting, 5)
    with pytest.raises(nats.errors.ConnectionClosedError):
        await acks.publish(subject, b"y", None, 5)
    assert not acks.started
    await sub.unsubscribe()


async def test_publishes_keep_working_across_a_nats_restart(tapped: bool, nats_server: Any) -> None:
    """nats-py subscribes the inbox again after the reconnect: no restart of the inbox."""
    nc, reconnected = await reconnecting_client(nats_server.url)
    try:
        js = nc.jetstream(timeout=5)
        await js.add_stream(StreamConfig(name="RESTART", subjects=["restart.>"]))
        acks = await started(nc)
        assert await acks.publish("restart.a", b"before", None, 5) == 1
        await asyncio.to_thread(nats_server.kill)
        await asyncio.to_thread(nats_server.start)
        await asyncio.wait_for(reconnected.wait(), 20)

        async def stored() -> bool:
            try:
                return await acks.publish("restart.a", b"after", None, 2) >= 2
            except (nats.errors.Error, nats.js.errors.Error):
                return False  # the stream may still be recovering its store

        await eventually(stored, timeout=20, message="a publish acked after the restart")
        await acks.stop()
    finally:
        await nc.close()
