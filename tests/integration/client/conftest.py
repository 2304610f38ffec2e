"""SDK fixtures: clients closed at the end of each test, whatever happens in it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from haws.client import Client, Message, MessageStream

MakeClient = Callable[..., Client]

FAST = {"backoff_base": 0.05, "backoff_cap": 0.5, "connect_timeout": 3.0}
"""Settings that keep reconnect tests short; the defaults are for production."""


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    made: list[Client] = []

    def make(urls: Sequence[str] | str, **settings: Any) -> Client:
        client = Client(urls, **{**FAST, **settings})
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def take(stream: MessageStream, count: int, timeout: float = 10.0) -> list[Message]:
    """The next ``count`` messages of ``stream``, within ``timeout`` seconds."""
    got: list[Message] = []
    async with asyncio.timeout(timeout):
        async for message in stream:
            got.append(message)
            if len(got) == count:
                break
    return got
