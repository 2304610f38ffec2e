"""The gateway's one ack inbox: every session write and ``pub`` acked on it, and the
ordered stop closes it only after the last writer (a draining client's final record)."""

from __future__ import annotations

from typing import Any

import pytest

from haws.common import names
from haws.common.ack_inbox import AckInbox
from haws.common.session_record import SessionRecord
from haws.gateway import service
from tests.integration.conftest import Connect
from tests.support.gateway_runner import gateway_settings, running_gateway

pytestmark = pytest.mark.integration


class RecordingInbox(AckInbox):
    """The real inbox, noting what reached it and when it stopped (for the test to see)."""

    made: list[RecordingInbox] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subjects: list[str] = []
        self.stopped = False
        self.connection_open_at_stop = False
        self.publishes_after_stop = 0
        RecordingInbox.made.append(self)

    async def _ack(
        self, subject: str, payload: bytes, headers: dict[str, str] | None, timeout: float
    ) -> dict[str, Any]:
        self.subjects.append(subject)
        if self.stopped:
            self.publishes_after_stop += 1
        return await super()._ack(subject, payload, headers, timeout)

    async def stop(self) -> None:
        self.stopped = True
        self.connection_open_at_stop = not self._nc.is_closed
        await super().stop()


async def test_the_inbox_acks_every_write_and_stops_after_the_last_one(
    shared_nats: Any, consul_agent: Any, connect: Connect, nc: Any, topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    RecordingInbox.made.clear()
    monkeypatch.setattr(service, "AckInbox", RecordingInbox)
    # No periodic session writes: the record after the stop is the closing one.
    settings = gateway_settings(
        shared_nats.url,
        consul_agent.http_url,
        session_flush_interval=60.0,
        session_cursor_interval=60.0,
    )
    async with running_gateway(settings) as gw:
        [acks] = RecordingInbox.made
        client = await connect(gw.url)
        session = client.others[0]["session"]
        await client.sub(topic)
        acked = await client.pub(topic, "last")
        await client.wait_msgs(topic, 1)
        assert acks.subjects == [names.topic_subject(topic)]  # the pub's ack
        await gw.stop()
        assert await client.wait_closed(timeout=5) == 4000

    # The drained client's final record went through the inbox, before it stopped,
    # and the inbox stopped before the NATS connection closed.
    assert acks.subjects[-1] == names.kv_key_prefix(names.KV_SESSIONS) + session
    assert acks.stopped
    assert acks.connection_open_at_stop
    assert acks.publishes_after_stop == 0
    kv = await nc.jetstream().key_value(names.KV_SESSIONS)
    entry = await kv.get(session)
    assert entry.value is not None
    stored = SessionRecord.decode(entry.value)
    assert stored.node == gw.deps.node
    assert stored.subs[topic].seq == acked["seq"]
