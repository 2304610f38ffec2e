"""The replay tail on a real nats-server: pages out of memory are the stream's pages,
a replica started mid-topic reads the rest from the stream, and a tail that trails
the stream never ends a page early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from haws.common import names
from haws.common.logs import get_logger
from haws.common.replay_protocol import (
    ReplayRequest,
    decode_page,
    encode_rows,
    pack_row,
    row_of,
)
from haws.common.stream_reader import StreamReader
from haws.replay.metrics import ReplayMetrics
from haws.replay.service import ReplayService
from haws.replay.tail import TailLimits, Tails
from tests.support.replay_runner import replay_settings, running_replay
from tests.support.service_runner import RunningService
from tests.support.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("stream_declared")]


@pytest.fixture
async def reader(nc: NatsClient) -> AsyncIterator[StreamReader]:
    r = StreamReader(nc, timeout=5)
    await r.start()
    yield r
    await r.stop()


async def store(nc: NatsClient, topic: str, count: int, *, other: str | None = None) -> list[int]:
    """``count`` messages on ``topic`` (one on ``other`` between each, so the topic's
    seqs are not consecutive); the topic's seqs."""
    js = nc.jetstream()
    futures = []
    for i in range(count):
        futures.append(await js.publish_async(names.topic_subject(topic), b"\xa1%d" % (i % 10)))
        if other is not None:
            await js.publish_async(names.topic_subject(other), b"\xa1o")
    acks = await asyncio.gather(*futures)
    return [a.seq for a in acks]


async def ask(nc: NatsClient, request: ReplayRequest) -> bytes:
    reply = await nc.request(names.REPLAY_SUBJECT, request.encode(), timeout=5)
    return bytes(reply.data)


async def read_all(nc: NatsClient, topic: str, after: int = 0) -> list[tuple[int, int]]:
    """(seq, prev) of every message after ``after``, page by page as a gateway reads."""
    got: list[tuple[int, int]] = []
    for _ in range(100):
        page = decode_page(topic, await ask(nc, ReplayRequest(topic, after, limit=1000)))
        assert page.gap is None
        got += [(m.seq, m.prev) for m in page.messages]
        if not page.more:
            return got
        after = page.messages[-1].seq
    raise AssertionError("more than 100 pages")


def pages(service: RunningService[Any], source: str) -> float:
    value = service.value.metrics.registry.get_sample_value(
        "haws_replay_pages_total", {"source": source}
    )
    return float(value or 0)


def holds(service: RunningService[Any], topic: str, last: int) -> bool:
    """The replica's tail has ``topic`` up to ``last``: its feed caught up."""
    hit = service.value.tails.read(topic, last - 1, 1, None, 1 << 20, 0)
    return hit is not None and hit.last == last


async def test_pages_from_the_tail_are_the_stream_s_pages(
    shared_nats: Any, nc: NatsClient, reader: StreamReader, topic: str
) -> None:
    async with running_replay(replay_settings(shared_nats.url)) as replay:
        seqs = await store(nc, topic, 1500, other=topic + ".x")
        await eventually(lambda: holds(replay, topic, seqs[-1]), message="tail caught up")
        cases = [
            (0, 1000, None),  # from the start, a full page
            (seqs[999], 1000, None),  # from an exact cursor to the end
            (seqs[10] + 1, 50, None),  # a cursor between two of the topic's seqs
            (seqs[100], 1000, seqs[200]),  # bounded by until
            (seqs[1400], 1000, seqs[-1] + 10),  # until past the end
            (seqs[-1], 1000, None),  # nothing after the cursor
        ]
        for after, limit, until in cases:
            served = await ask(nc, ReplayRequest(topic, after, limit, until))
            rows, more, gap = await reader.read_as(topic, after, limit, row_of, until=until)
            assert served == encode_rows(rows, more, gap), (after, limit, until)
        assert pages(replay, "tail") == len(cases)
        assert pages(replay, "stream") == 0


async def test_a_replica_started_mid_topic_reads_the_older_part_from_the_stream(
    shared_nats: Any, nc: NatsClient, topic: str
) -> None:
    before = await store(nc, topic, 1200, other=topic + ".x")
    async with running_replay(replay_settings(shared_nats.url)) as replay:
        after = await store(nc, topic, 1200, other=topic + ".x")
        await eventually(lambda: holds(replay, topic, after[-1]), message="tail caught up")
        got = await read_all(nc, topic)
        seqs = before + after
        assert got == list(zip(seqs, [0, *seqs[:-1]], strict=True)), "every message, chained"
        assert pages(replay, "stream") >= 2, "1,200 older messages: two stream pages"
        assert pages(replay, "tail") >= 1


async def test_a_tail_limited_per_topic_still_replays_everything(
    shared_nats: Any, nc: NatsClient, topic: str
) -> None:
    async with running_replay(replay_settings(shared_nats.url, tail_messages=100)) as replay:
        seqs = await store(nc, topic, 700)
        await eventually(lambda: holds(replay, topic, seqs[-1]), message="tail caught up")
        tails: Tails = replay.value.tails
        assert tails.read(topic, seqs[-101], 1, None, 1 << 20, 0) is not None, "the last 100"
        assert tails.read(topic, seqs[-102], 1, None, 1 << 20, 0) is None, "and no more"
        assert [s for s, _ in await read_all(nc, topic)] == seqs


async def test_a_tail_behind_the_stream_never_ends_a_page_early(
    nc: NatsClient, reader: StreamReader, topic: str
) -> None:
    """The feed trails the stream by a moment (or lost the last republish of a quiet
    topic): the page that ends at the tail's end must not say the replay is over."""
    seqs = await store(nc, topic, 30)
    tails = Tails(TailLimits())
    rows, _, _ = await reader.read_as(topic, 0, 25, row_of)  # the tail saw 25 of 30
    for row in rows:
        tails.append(topic, row[0], row[1], row[2], pack_row(row))
    metrics = ReplayMetrics()
    service = ReplayService(nc, reader, metrics, get_logger("replay"), max_inflight=8, tails=tails)
    await service.start()
    try:
        first = decode_page(topic, await ask(nc, ReplayRequest(topic, 0, 1000)))
        assert [m.seq for m in first.messages] == seqs[:25]
        assert first.more, "the stream holds more than the tail: ask again"
        assert [s for s, _ in await read_all(nc, topic, after=seqs[24])] == seqs[25:]
        behind = metrics.registry.get_sample_value(
            "haws_replay_pages_total", {"source": "tail_behind"}
        )
        assert behind == 1, "the rest came from the stream"
    finally:
        await service.stop()
