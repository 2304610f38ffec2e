"""What the KV watch reads from a delivery's reply subject and header block."""

from __future__ import annotations

from nats.aio.msg import Msg

from haws.presence.kv_watch import Operation, operation, reply_fields

OLD_FORM = b"$JS.ACK.KV_PRESENCE.cons1.1.42.7.1764646800123456789.3"
NEW_FORM = b"$JS.ACK.hub.ACCHASH.KV_PRESENCE.cons1.1.42.7.1764646800123456789.3.rnd"


def test_both_reply_forms_give_sequences_time_and_pending() -> None:
    assert reply_fields(OLD_FORM) == (42, 7, 1764646800123456789, 3)
    assert reply_fields(NEW_FORM) == (42, 7, 1764646800123456789, 3)
    assert reply_fields(NEW_FORM.rsplit(b".", 1)[0]) == (42, 7, 1764646800123456789, 3)


def test_they_agree_with_nats_py_metadata() -> None:
    for reply in (OLD_FORM, NEW_FORM):
        meta = Msg(_client=None, reply=reply.decode()).metadata  # type: ignore[arg-type]  # metadata needs no client
        fields = reply_fields(reply)
        assert fields is not None
        sseq, cseq, stamp, pending = fields
        assert (sseq, cseq, pending) == (
            meta.sequence.stream,
            meta.sequence.consumer,
            meta.num_pending,
        )
        assert abs(stamp / 1e9 - meta.timestamp.timestamp()) < 1e-6


def test_anything_else_is_not_a_delivery() -> None:
    assert reply_fields(b"") is None
    assert reply_fields(b"$JS.FC.KV_PRESENCE.cons1.abc") is None
    assert reply_fields(b"$JS.ACK.too.short") is None
    assert reply_fields(b"$JS.ACK.KV.c.1.x.7.1.0") is None


def test_operations_from_the_header_block() -> None:
    assert operation(None) is Operation.PUT
    assert operation(b"NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 4\r\n\r\n") is Operation.PUT
    assert operation(b"NATS/1.0\r\nKV-Operation: DEL\r\n\r\n") is Operation.DEL
    assert operation(b"NATS/1.0\r\nKV-Operation: PURGE\r\nNats-Rollup: sub\r\n\r\n") is (
        Operation.PURGE
    )


def test_server_markers_by_reason() -> None:
    def marker(reason: bytes) -> bytes:
        return b"NATS/1.0\r\nNats-Marker-Reason: " + reason + b"\r\n\r\n"

    assert operation(marker(b"MaxAge")) is Operation.PURGE
    assert operation(marker(b"Purge")) is Operation.PURGE
    assert operation(marker(b"Remove")) is Operation.DEL
    assert operation(marker(b"SomethingNew")) is Operation.SKIP
