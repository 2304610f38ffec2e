"""Structured logs: one JSON object a line, whatever the fields hold."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from haws.common.logs import JsonFormatter, get_logger


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("haws.test-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)


def _records(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_is_the_event_with_its_bound_and_own_fields(lines: io.StringIO) -> None:
    log = get_logger("test-logs", node="gw-1").bind(session="s1")
    log.info("ws.open", codec="json", resumed=False)
    log.debug("not shown")  # below the level: no line
    (record,) = _records(lines)
    assert record["event"] == "ws.open"
    assert record["level"] == "info"
    assert record["logger"] == "haws.test-logs"
    assert (record["node"], record["session"], record["codec"], record["resumed"]) == (
        "gw-1",
        "s1",
        "json",
        False,
    )


def test_values_json_cannot_hold_are_written_as_text(lines: io.StringIO) -> None:
    log = get_logger("test-logs")
    log.warning("odd", raw=b"\x00", big=2**70, accent="é", keyed={1: "one"})
    (record,) = _records(lines)
    assert record["raw"] == "b'\\x00'"
    assert record["big"] == 2**70  # past orjson's 64 bits: the standard library writes it
    assert record["accent"] == "é"
    assert record["keyed"] == {"1": "one"}


def test_an_exception_is_logged_with_its_traceback(lines: io.StringIO) -> None:
    log = get_logger("test-logs")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("handler_crashed", subject="x")
    (record,) = _records(lines)
    assert record["level"] == "error"
    assert "ValueError: boom" in str(record["exc"])
