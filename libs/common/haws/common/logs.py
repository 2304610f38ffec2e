"""Structured logs: one JSON object a line, with the event name and its context.

Every record carries ``node`` (and ``session``/``topic`` where they apply) so the
lines of one connection can be followed across a cluster with ``grep``.

A gateway logs every connection's open and close: in a connect storm a line cost
about a tenth of a hello (issue 14). So a line skips what the JSON never shows
(the caller's file and line, thread and process names) and is dumped by orjson
when installed (the ``fast`` extra; the standard library if not, or if orjson
refuses a value).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_orjson: Any
try:  # optional speed-up: compact JSON as below, UTF-8 rather than \u escapes
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the install
    _orjson = None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            event.update(fields)
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        if _orjson is not None:
            try:
                return str(
                    _orjson.dumps(event, default=str, option=_orjson.OPT_NON_STR_KEYS), "utf-8"
                )
            except TypeError:  # a value orjson will not take (an int past 64 bits)
                pass
        return json.dumps(event, default=str, separators=(",", ":"))


def setup_logging(level: str = "info") -> None:
    """Route every logger to stderr as JSON lines; call once in ``__main__``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Nothing the JSON shows: not worth a lookup per record.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # Third-party loggers speak in prose; keep them to warnings.
    for noisy in ("aiohttp.access", "nats", "consul"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class EventLogger:
    """A logger bound to context fields, logging named events with more fields."""

    __slots__ = ("_bound", "_logger")

    def __init__(self, logger: logging.Logger, bound: dict[str, Any]) -> None:
        self._logger = logger
        self._bound = bound

    def bind(self, **fields: Any) -> EventLogger:
        return EventLogger(self._logger, {**self._bound, **fields})

    def _log(self, level: int, event: str, exc_info: bool, fields: dict[str, Any]) -> None:
        logger = self._logger
        if logger.isEnabledFor(level):
            # ``makeRecord`` + ``handle`` is ``Logger.log`` without ``findCaller``'s
            # stack walk (the JSON has no file or line); filters and handlers alike.
            record = logger.makeRecord(
                logger.name,
                level,
                "",
                0,
                event,
                (),
                sys.exc_info() if exc_info else None,
                extra={"fields": {**self._bound, **fields}},
            )
            logger.handle(record)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, False, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, False, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, False, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, False, fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, True, fields)


def get_logger(component: str, **bound: Any) -> EventLogger:
    return EventLogger(logging.getLogger(f"haws.{component}"), bound)


def monotonic_ms() -> int:
    return int(time.monotonic() * 1000)
