"""Header blocks read in place agree with nats-py's own parsing of the same bytes."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from nats.aio.subscription import Subscription

from haws.common.raw_replies import header, header_block, header_key, status, tap_for

BLOCK = (
    b"NATS/1.0\r\nHaws-From: u1\r\nNats-Msg-Id: m0\r\nNats-Stream: HAWS\r\n"
    b"Nats-Subject: haws.t.x\r\nNats-Sequence: 17\r\n"
    b"Nats-Time-Stamp: 2026-11-27T06:07:33.444138968Z\r\nNats-Num-Pending: 2\r\n"
    b"Nats-Last-Sequence: 16\r\n\r\n"
)


def test_every_header_reads_as_nats_py_parses_it() -> None:
    parsed = NatsClient._parse_header_lines(BLOCK[len(b"NATS/1.0\r\n") :])
    for name, value in parsed.items():
        assert header(BLOCK, header_key(name)) == value.encode()
    assert header(BLOCK, header_key("traceparent")) is None
    assert header(BLOCK, header_key("Sequence")) is None  # a suffix is not the name


def test_status_only_for_inline_status_lines() -> None:
    assert status(b"NATS/1.0 204 EOB\r\nNats-Num-Pending: 0\r\n\r\n") == b"204"
    assert status(b"NATS/1.0 404 Message Not Found\r\n\r\n") == b"404"
    assert status(BLOCK) is None
    assert status(None) is None


def test_a_parsed_dict_turns_back_into_an_equivalent_block() -> None:
    parsed = NatsClient._parse_header_lines(BLOCK[len(b"NATS/1.0\r\n") :])
    block = header_block(parsed)
    assert block is not None
    assert status(block) is None
    assert header(block, header_key("Nats-Sequence")) == b"17"
    eob = header_block({"Status": "204", "Nats-Num-Pending": "0"})
    assert eob is not None
    assert status(eob) == b"204"
    assert header_block(None) is None


async def test_the_installed_nats_py_still_has_the_hook_raw_replies_wraps() -> None:
    """``raw_replies`` wraps nats-py's private ``_process_msg`` (pinned below 3 in
    pyproject.toml). Should nats-py change it, ``tap_for`` quietly falls back to
    the slow path; this test is what notices."""
    nc = NatsClient()
    tap = tap_for(nc)
    assert tap is not None, "nats-py's _process_msg changed: update raw_replies and its pin"
    seen: list[tuple[bytes, bytes | None, bytes]] = []
    sub = Subscription(nc, id=42, subject="haws.test")
    tap.route(sub, lambda subject, block, data: seen.append((subject, block, data)))
    await nc._process_msg(42, b"haws.test", b"", b"payload", BLOCK)
    assert seen == [(b"haws.test", BLOCK, b"payload")]
    assert nc.stats["in_msgs"] == 1
    assert nc.stats["in_bytes"] == len(b"payload")


async def test_a_route_with_reply_also_gets_the_reply_subject() -> None:
    """The KV watch reads a push consumer's sequences from the reply subject."""
    nc = NatsClient()
    tap = tap_for(nc)
    assert tap is not None
    seen: list[tuple[bytes, bytes, bytes | None, bytes]] = []
    sub = Subscription(nc, id=43, subject="haws.watch")
    tap.route_with_reply(sub, lambda *raw: seen.append(raw))
    reply = b"$JS.ACK.KV_X.c.1.5.5.1764646800000000000.0"
    block = b"NATS/1.0\r\nKV-Operation: DEL\r\n\r\n"
    await nc._process_msg(43, b"$KV.X.k", reply, b"v", block)
    assert seen == [(b"$KV.X.k", reply, block, b"v")]
    tap.unroute(sub)
    await nc._process_msg(43, b"$KV.X.k", reply, b"w", block)  # no such subscription now
    assert len(seen) == 1
