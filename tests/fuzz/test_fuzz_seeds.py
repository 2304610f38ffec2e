"""The fuzz harness stays runnable: its seeds and a few hostile inputs pass ``check``."""

from __future__ import annotations

import pytest

from tests.fuzz.frame_checks import SEEDS, check


@pytest.mark.parametrize("data", SEEDS)
def test_seeds_pass(data: bytes) -> None:
    check(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00" + b"[" * 10_000,
        b"\x01" + b"\x91" * 10_000,
        b"\x03" + b"\xdd\xff\xff\xff\xff",
        b"\x04eyJhbGciOiJub25lIn0.e30.",
        b"\x04" + b"." * 50,
        b"\x02\xff\xfe",
    ],
)
def test_hostile_inputs_pass(data: bytes) -> None:
    check(data)
