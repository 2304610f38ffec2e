"""What the tail makes of a republished message: the row a stream read would make."""

from __future__ import annotations

from typing import cast

from nats.aio.client import Client as NatsClient

from haws.common import names
from haws.common.logs import get_logger
from haws.common.messages import StoredMessage
from haws.common.replay_protocol import decode_page, encode_packed
from haws.common.stream_reader import HistoryPage
from haws.replay.metrics import ReplayMetrics
from haws.replay.tail import TailLimits, Tails
from haws.replay.tail_feed import TailFeed

NOW = 1795750963444 + 1000


def republished(seq: int, prev: int | None, *, extra: bytes = b"") -> bytes:
    last = b"" if prev is None else b"Nats-Last-Sequence: %d\r\n" % prev
    return (
        b"NATS/1.0\r\nHaws-From: alice\r\nNats-Msg-Id: m%d\r\n" % seq
        + extra
        + b"Nats-Stream: HAWS\r\nNats-Subject: haws.t.room\r\nNats-Sequence: %d\r\n" % seq
        + b"Nats-Time-Stamp: 2026-11-27T06:07:33.444138968Z\r\n"
        + last
        + b"\r\n"
    )


def feed_of(tails: Tails) -> tuple[TailFeed, ReplayMetrics]:
    metrics = ReplayMetrics()
    # ``start`` is what needs the connection; ``on_message`` never touches it.
    feed = TailFeed(cast(NatsClient, None), tails, metrics, get_logger("replay"))
    return feed, metrics


def test_a_republished_message_becomes_the_stream_read_s_row() -> None:
    """A page from the tail decodes to the messages a direct read builds from the
    same headers (``StoredMessage.from_header_block``)."""
    tails = Tails(TailLimits())
    feed, _ = feed_of(tails)
    subject = names.live_subject("room").encode()
    first, second = republished(4, None), republished(9, 4, extra=b"traceparent: 00-ab-cd-01\r\n")
    feed.on_message(subject, first, b"\xa1a")  # the topic's first message: no prev header
    feed.on_message(subject, second, b"\xa1b")
    hit = tails.read("room", 0, 10, None, 1 << 20, NOW)
    assert hit is not None
    assert decode_page("room", encode_packed(hit.rows, False, None)) == HistoryPage(
        [
            StoredMessage.from_header_block("room", first, b"\xa1a", 4, 0),
            StoredMessage.from_header_block("room", second, b"\xa1b", 9, 4),
        ]
    )


def test_canary_topics_and_broken_messages_stay_out() -> None:
    tails = Tails(TailLimits())
    feed, _ = feed_of(tails)
    canary = names.live_subject(names.canary_topic("gw-1")).encode()
    feed.on_message(canary, republished(1, 0), b"probe")
    feed.on_message(names.live_subject("room").encode(), None, b"no headers")
    feed.on_message(names.live_subject("room").encode(), b"NATS/1.0\r\n\r\n", b"no seq")
    assert len(tails) == 0


def test_a_lost_republish_is_counted_as_a_restart() -> None:
    tails = Tails(TailLimits())
    feed, metrics = feed_of(tails)
    subject = names.live_subject("room").encode()
    for seq, prev in ((1, 0), (2, 1), (5, 3)):
        feed.on_message(subject, republished(seq, prev), b"x")
    assert metrics.registry.get_sample_value("haws_replay_tail_restarts_total") == 1
