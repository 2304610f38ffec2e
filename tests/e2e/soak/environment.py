"""The ``HAWS_*`` settings every process of the soak's cluster inherits."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def soak_environment(retention: float, duplicate_window: float, ttl: float) -> Iterator[None]:
    """Short retention (and dedupe window) and session TTL, so both level off in the run."""
    values = {
        "HAWS_STREAM_MAX_AGE": retention,
        "HAWS_STREAM_DUPLICATE_WINDOW": min(duplicate_window, retention),
        "HAWS_SESSION_TTL": ttl,
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
