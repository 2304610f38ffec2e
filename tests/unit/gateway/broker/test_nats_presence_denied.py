"""``NatsPresence.batch`` under NATS permissions that predate batches: the refusal
nats-py reports beside the request turns a timeout into ``NoReplica`` (callers
then go one per request), batches are not tried again for ``DENIED_RECHECK``
seconds, and then they are. The wire itself is tested over a real nats-server in
``tests/integration/test_gateway_presence_old_permissions.py``."""

from __future__ import annotations

from typing import Any, cast

import nats.errors
import pytest
from nats.aio.client import Client as NatsClient

from haws.common import names
from haws.common import presence_protocol as pp
from haws.common.logs import get_logger
from haws.gateway.broker.nats_presence import DENIED_RECHECK, NatsPresence, publish_denied
from haws.gateway.broker.seams import NoReplica

DENIAL = nats.errors.Error(
    f"nats: 'Permissions Violation for Publish to \"{names.PRESENCE_BATCH}\"'"
)


class UnansweredClient:
    """Every request times out, as a request the server refused to route does."""

    def __init__(self, last_error: Exception | None) -> None:
        self.last_error = last_error
        self.requests: list[str] = []

    async def request(self, subject: str, data: bytes, timeout: float) -> Any:
        self.requests.append(subject)
        raise nats.errors.TimeoutError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def presence(client: UnansweredClient, clock: Clock) -> NatsPresence:
    return NatsPresence(cast(NatsClient, client), get_logger("test"), timeout=1.0, clock=clock)


BATCH = pp.Batch(claims=[pp.Claim(session="s1", node="gw-1", conn="c1")])


def test_a_permissions_violation_names_its_subject() -> None:
    assert publish_denied(DENIAL, names.PRESENCE_BATCH)
    assert not publish_denied(DENIAL, names.PRESENCE_CLAIM)
    other = nats.errors.Error(
        f"nats: 'Permissions Violation for Subscription to \"{names.PRESENCE_BATCH}\"'"
    )
    assert not publish_denied(other, names.PRESENCE_BATCH)
    assert not publish_denied(None, names.PRESENCE_BATCH)


async def test_a_refused_batch_is_no_replica_and_not_sent_again_until_the_recheck() -> None:
    client, clock = UnansweredClient(DENIAL), Clock()
    calls = presence(client, clock)
    with pytest.raises(NoReplica):
        await calls.batch(BATCH)
    with pytest.raises(NoReplica):
        await calls.batch(BATCH)  # at once: nothing sent, no timeout waited
    assert client.requests == [names.PRESENCE_BATCH]

    clock.now += DENIED_RECHECK
    client.last_error = None  # the permissions were fixed: a timeout is a timeout again
    with pytest.raises(TimeoutError):
        await calls.batch(BATCH)
    assert client.requests == [names.PRESENCE_BATCH, names.PRESENCE_BATCH]


async def test_a_timeout_without_a_refusal_stays_a_timeout() -> None:
    client = UnansweredClient(nats.errors.Error("nats: 'Slow Consumer'"))
    with pytest.raises(TimeoutError):
        await presence(client, Clock()).batch(BATCH)
