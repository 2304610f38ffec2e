"""The gateway's ``gc_threshold`` reaches the collector (and freezes what start-up
loaded); 0 keeps Python's own."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from haws.common.entrypoint import tune_gc
from haws.common.settings import load
from haws.gateway.settings import GatewaySettings


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)


def test_the_setting_sets_the_young_generation_threshold() -> None:
    settings = load(GatewaySettings, {"HAWS_GC_THRESHOLD": "12345"}, [], prog="haws gateway")
    _, older, oldest = gc.get_threshold()
    tune_gc(settings.gc_threshold)
    assert gc.get_threshold() == (12345, older, oldest)
    assert gc.get_freeze_count() > 0  # what start-up loaded is out of the passes


def test_zero_keeps_the_interpreter_default() -> None:
    gc.set_threshold(700, 10, 10)
    tune_gc(0)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0
