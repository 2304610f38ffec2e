"""A real replay replica in the test's event loop (see ``service_runner``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from haws.replay.node import run_replay
from haws.replay.settings import ReplaySettings
from tests.support.service_runner import RunningService, running_service


def replay_settings(nats_url: str, **overrides: Any) -> ReplaySettings:
    return ReplaySettings(**{"nats_url": (nats_url,), "http_port": 0, **overrides})


@contextlib.asynccontextmanager
async def running_replay(settings: ReplaySettings) -> AsyncIterator[RunningService[Any]]:
    async with running_service(run_replay, settings) as service:
        yield service
