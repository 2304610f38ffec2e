"""StreamReader on a real stream: what a history page holds, read through the raw
reply tap and through an ordinary nats-py subscription alike."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from haws.common import names, raw_replies
from haws.common.errors import StreamError
from haws.common.messages import StoredMessage
from haws.common.raw_replies import tap_for
from haws.common.stream_reader import StreamReader
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stream_declared")]


@pytest.fixture(params=["tapped", "subscribed"])
async def reader(
    request: pytest.FixtureRequest, nc: NatsClient, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[StreamReader]:
    if request.param == "subscribed":  # as with a nats-py the tap does not fit
        monkeypatch.setattr(raw_replies, "tap_for", lambda _nc: None)
    r = StreamReader(nc, timeout=5)
    await r.start()
    yield r
    await r.stop()


async def publish(nc: NatsClient, topic: str, count: int, **headers: str) -> list[int]:
    js = nc.jetstream()
    acks = [
        await js.publish(names.topic_subject(topic), b"\xa1x", headers=headers or None)
        for _ in range(count)
    ]
    return [a.seq for a in acks]


async def reference(nc: NatsClient, topic: str, seq: int) -> StoredMessage:
    """The stored message as nats-py's own header parsing sees it (the reader's old way)."""
    request = json.dumps({"seq": seq}).encode()
    msg = await nc.request(names.direct_get_subject(), request, timeout=5)
    return StoredMessage.from_headers(topic, msg.headers or {}, msg.data, prev=0)


async def test_a_page_carries_every_stored_field(
    reader: StreamReader, nc: NatsClient, topic: str
) -> None:
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    seqs = await publish(nc, topic, 3, **{"Haws-From": "alice é", "traceparent": tp})
    page = await reader.read(topic, 0)
    assert [m.seq for m in page.messages] == seqs
    assert [m.prev for m in page.messages] == [0, *seqs[:-1]]
    assert (page.more, page.gap) == (False, None)
    assert page.messages[0] == await reference(nc, topic, seqs[0])
    got = page.messages[0]
    assert (got.sender, got.mid, got.traceparent) == ("alice é", None, tp)
    assert got.ts > 0


async def test_pages_stop_at_limit_and_until(
    reader: StreamReader, nc: NatsClient, topic: str
) -> None:
    seqs = await publish(nc, topic, 10)
    first = await reader.read(topic, 0, limit=4)
    assert [m.seq for m in first.messages] == seqs[:4]
    assert first.more
    upto = await reader.read(topic, seqs[3], until=seqs[7])
    assert [m.seq for m in upto.messages] == seqs[4:7]
    assert not upto.more
    assert await reader.last_seq(topic) == seqs[-1]
    assert await reader.last_seq(topic + ".none") == 0


async def test_a_cursor_older_than_retention_reports_the_gap(
    reader: StreamReader, nc: NatsClient, topic: str
) -> None:
    seqs = await publish(nc, topic, 10)
    await nc.jetstream().purge_stream(names.STREAM, subject=names.topic_subject(topic), keep=5)
    page = await reader.read(topic, seqs[1])
    assert page.gap == (seqs[1] + 1, seqs[5] - 1)
    assert [m.seq for m in page.messages] == seqs[5:]


async def test_a_stream_that_never_answers_times_out(nc: NatsClient) -> None:
    mute = await nc.subscribe(names.direct_get_subject("MUTE"))  # takes requests, never replies
    r = StreamReader(nc, timeout=0.2, stream="MUTE")
    await r.start()
    try:
        with pytest.raises(StreamError, match="timed out"):
            await r.read("t", 0)
    finally:
        await r.stop()
        await mute.unsubscribe()


async def test_the_tap_leaves_other_subscriptions_alone_and_stops_routing(
    nc: NatsClient, topic: str
) -> None:
    r = StreamReader(nc, timeout=5)
    await r.start()
    got: list[str] = []

    async def on_msg(msg: Any) -> None:
        got.append(msg.headers["k"])

    other = await nc.subscribe("other." + topic, cb=on_msg)
    await nc.publish("other." + topic, b"", headers={"k": "v"})
    await publish(nc, topic, 2)
    assert len((await r.read(topic, 0)).messages) == 2
    await eventually(lambda: got == ["v"])
    tap = tap_for(nc)
    assert tap is not None
    routes = len(tap._routes)
    await r.stop()
    assert len(tap._routes) == routes - 1
    await other.unsubscribe()
