"""A gateway of this release under the NATS permissions of an older one (issue 14):
its user may not publish ``haws.presence.batch``, so nats-server refuses every
batch with a permissions violation and the request can only time out. The
gateway reads the refusal, says so once, and sends its claims and events one
per request: every session is claimed (fenced) and every sub applied, against
a real presence replica on a real nats-server with per-role users.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient

from haws.cluster.credentials import ClusterCredentials
from haws.cluster.nats import NatsAuth, NatsServer
from haws.common import names
from haws.common import presence_protocol as pp
from haws.common.logs import get_logger
from haws.common.permissions import GATEWAY, PRESENCE
from haws.gateway.broker.nats_presence import NatsPresence, publish_denied
from haws.gateway.sessions.claim_batches import SENDERS
from haws.presence.node import run_presence
from tests.integration.presence.presence_support import presence_settings
from tests.support.presence_links import claim_storm, started_link
from tests.support.service_runner import running_service
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

OLD_GATEWAY = dataclasses.replace(
    GATEWAY, publish=tuple(s for s in GATEWAY.publish if s != names.PRESENCE_BATCH)
)
"""The gateway's rights before batches: the single presence subjects only."""


@pytest.fixture
def credentials() -> ClusterCredentials:
    return ClusterCredentials.generate()


@pytest.fixture
def old_server(tmp_path: Path, credentials: ClusterCredentials) -> Iterator[NatsServer]:
    auth = NatsAuth(
        credentials.nats_passwords, credentials.route_password, roles=(OLD_GATEWAY, PRESENCE)
    )
    with NatsServer(tmp_path / "nats", auth=auth) as server:
        yield server


@pytest.fixture
async def gateway_nc(
    old_server: NatsServer, credentials: ClusterCredentials
) -> AsyncIterator[NatsClient]:
    nc = await nats.connect(
        old_server.url,
        user=OLD_GATEWAY.user,
        password=credentials.nats_passwords[GATEWAY.name],
        inbox_prefix=OLD_GATEWAY.inbox_prefix,
        allow_reconnect=False,
    )
    try:
        yield nc
    finally:
        await nc.close()


async def test_claims_and_events_go_one_by_one_when_batches_are_not_permitted(
    old_server: NatsServer, credentials: ClusterCredentials, gateway_nc: NatsClient
) -> None:
    settings = presence_settings(
        old_server.url,
        nats_user=PRESENCE.user,
        nats_password=credentials.nats_passwords[PRESENCE.name],
        nats_inbox_prefix=PRESENCE.inbox_prefix,
    )
    calls = NatsPresence(gateway_nc, get_logger("test"), timeout=1.0)
    async with running_service(run_presence, settings), started_link(calls) as link:
        n = SENDERS * 5  # more than the senders: they would leave in batches
        sessions = [f"s{i}" for i in range(n)]
        epochs = claim_storm(link, sessions, ("room",))
        await eventually(lambda: len(epochs) == n, timeout=20, message="every claim's epoch")
        assert all(epoch > 0 for epoch in epochs.values())  # claimed: fenced, not unfenced
        assert publish_denied(gateway_nc.last_error, names.PRESENCE_BATCH)

        async def all_members() -> bool:
            reply = await calls.query(pp.Query("room"))
            return {m["session"] for m in reply.members} == set(sessions)

        await eventually(all_members, timeout=20, message="every sub applied")
