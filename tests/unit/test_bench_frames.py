"""The load generator's WebSocket framing: what it sends and how it splits what it gets."""

from __future__ import annotations

import pytest

from bench.loadgen.frames import (
    BINARY,
    CLOSE,
    TEXT,
    FrameError,
    FrameReader,
    client_frame,
    close_code_of,
)


def server_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """An unmasked frame as a server writes it."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return bytes((first, 126)) + n.to_bytes(2, "big") + payload
    return bytes((first, 127)) + n.to_bytes(8, "big") + payload


@pytest.mark.parametrize("size", [0, 5, 125, 126, 300, 65535, 65536])
def test_client_frame_is_masked_with_a_zero_key_and_keeps_the_payload(size: int) -> None:
    payload = b"p" * size
    frame = client_frame(TEXT, payload)
    assert frame[0] == 0x80 | TEXT
    assert frame[1] & 0x80  # masked, as RFC 6455 requires of clients
    header = 2 + (2 if 126 <= size < 65536 else 8 if size >= 65536 else 0)
    assert frame[header : header + 4] == b"\x00\x00\x00\x00"
    assert frame[header + 4 :] == payload


@pytest.mark.parametrize("size", [3, 126, 70_000])
def test_reader_returns_whole_frames_of_every_length_class(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert FrameReader().feed(server_frame(BINARY, payload)) == [(BINARY, payload)]


def test_reader_splits_a_chunk_with_several_frames() -> None:
    chunk = server_frame(TEXT, b"one") + server_frame(TEXT, b"two" * 50) + server_frame(TEXT, b"3")
    assert FrameReader().feed(chunk) == [(TEXT, b"one"), (TEXT, b"two" * 50), (TEXT, b"3")]


def test_reader_keeps_a_partial_frame_until_its_rest_arrives() -> None:
    data = server_frame(TEXT, b"a" * 200) + server_frame(TEXT, b"b")
    reader = FrameReader()
    received = []
    for i in range(len(data)):  # one byte at a time: every cut point is exercised
        received += reader.feed(data[i : i + 1])
    assert received == [(TEXT, b"a" * 200), (TEXT, b"b")]
    assert reader.pending == 0


def test_reader_joins_fragments_and_passes_control_frames_between_them() -> None:
    data = (
        server_frame(TEXT, b"he", fin=False)
        + server_frame(CLOSE, b"\x03\xe8")
        + server_frame(0, b"ll", fin=False)
        + server_frame(0, b"o")
    )
    assert FrameReader().feed(data) == [(CLOSE, b"\x03\xe8"), (TEXT, b"hello")]


def test_reader_rejects_masked_server_frames_and_stray_continuations() -> None:
    with pytest.raises(FrameError):
        FrameReader().feed(bytes((0x81, 0x81)) + b"\x00\x00\x00\x00x")
    with pytest.raises(FrameError):
        FrameReader().feed(server_frame(0, b"x"))


def test_close_code_of_reads_the_status_or_1005() -> None:
    assert close_code_of((4008).to_bytes(2, "big") + b"slow consumer") == 4008
    assert close_code_of(b"") == 1005
