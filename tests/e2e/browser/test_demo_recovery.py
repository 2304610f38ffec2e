"""What the reconnect looks like from a browser tab: a gateway SIGKILLed, a reload, going offline.

Each test has a publishing page and a reading page in their own room; the
reading page must end with every acked message exactly once and in order, in
its record and on screen, with no gap reported and nothing dropped.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

from haws.cluster import Gateway, LocalCluster, wait_until
from haws.cluster.component import wait_ready_all
from tests.e2e.browser.conftest import OpenPage, RecoveryLog
from tests.e2e.browser.pages import DemoPage

KILLS = 3
PUBLISH_EVERY_MS = 50
"""25 msg/s would fill a 100-publish outbox in 4 s of outage; 20 msg/s leaves 5 s under load."""
RESTART_TIMEOUT = 30.0
HAPROXY_TIMEOUT = 20.0


def room() -> str:
    return f"t{uuid4().hex[:8]}"


def assert_exactly_once(page: DemoPage, name: str, acked: list[int]) -> None:
    page.wait_received(name, len(acked))
    assert len(set(acked)) == len(acked), "each publish got its own seq"
    assert page.seqs(name) == sorted(acked), "every acked message once, in order"
    assert page.shown_seqs() == sorted(acked), "and the page shows exactly those"
    assert page.record("gaps") == []
    assert page.record("dropped") == []
    assert page.errors == []


def gateway_of(cluster: LocalCluster, page: DemoPage) -> Gateway:
    return next(g for g in cluster.gateways if g.name == page.node)


def restart(cluster: LocalCluster, *gateways: Gateway) -> None:
    """Start the gateways again together; back once HAProxy's own check passes on each."""
    for gateway in gateways:
        gateway.spawn()
    wait_ready_all(gateways, RESTART_TIMEOUT)
    assert cluster.haproxy is not None
    haproxy = cluster.haproxy
    wait_until(
        lambda: all(haproxy.sees_up(g.port) for g in gateways),
        HAPROXY_TIMEOUT,
        0.1,
        what="back in HAProxy",
    )


def back_after(page: DemoPage, since_ms: float) -> dict[str, Any]:
    """Wait for the page to leave `connected` after ``since_ms`` and come back; the return."""
    page.wait(
        "(t) => { const s = hawsDemo.transitions.filter(x => x.at >= t);"
        " return s.some(x => x.state !== 'connected') && s.at(-1).state === 'connected'; }",
        since_ms,
    )
    return next(t for t in reversed(page.transitions()) if t["state"] == "connected")


def test_gateway_sigkill_while_messages_flow(
    open_page: OpenPage, browser_cluster: LocalCluster, recovery: RecoveryLog
) -> None:
    name = room()
    reader = open_page(name, name="reader")
    writer = open_page(name, name="writer")
    writer.start_publishing(name, PUBLISH_EVERY_MS)
    for kill in range(KILLS):
        reader.wait_received(name, 10 * (kill + 1))
        victim = gateway_of(browser_cluster, reader)
        killed_at = time.time() * 1000
        victim.kill()
        if kill == 0:
            reader.wait("hawsDemo.client.state !== 'connected'")
            reader.screenshot("reconnecting")
        back = back_after(reader, killed_at)
        recovery.add(back["at"] - killed_at)
        lost = [
            t for t in reader.transitions() if t["at"] >= killed_at and t["state"] != "connected"
        ]
        assert all(t["state"] == "connecting" for t in lost), lost
        assert reader.node != victim.name
        restart(browser_cluster, victim)
    reader.wait_received(name, len(reader.seqs(name)) + 10)
    result = writer.stop_publishing()
    assert result["failed"] == []
    assert_exactly_once(reader, name, result["acks"])
    assert_exactly_once(writer, name, result["acks"])
    reader.screenshot("recovered")


def test_whole_tier_down_says_reconnecting_then_catches_up(
    open_page: OpenPage, browser_cluster: LocalCluster
) -> None:
    """Every gateway gone: the page says so quietly, publishes wait, then all arrive once."""
    name = room()
    reader = open_page(name, name="reader")
    writer = open_page(name, name="writer")
    writer.start_publishing(name, PUBLISH_EVERY_MS)
    reader.wait_received(name, 5)
    for gateway in browser_cluster.gateways:
        gateway.kill()
    reader.wait("hawsDemo.client.state === 'connecting'")
    assert reader.status_text() == "connection lost, reconnecting…"
    reader.screenshot("reconnecting-all-down")
    restart(browser_cluster, *browser_cluster.gateways)
    for page in (reader, writer):
        page.wait_connected()
    reader.wait_received(name, len(reader.seqs(name)) + 5)
    result = writer.stop_publishing()
    # A long outage fills the writer's outbox (100): what it refuses is reported, each once.
    assert set(result["failed"]) <= {"outbox_full"}
    assert len(writer.record("dropped")) == len(result["failed"])
    assert_exactly_once(reader, name, result["acks"])


def test_reload_resumes_the_session_with_nothing_lost_or_repeated(open_page: OpenPage) -> None:
    name = room()
    reader = open_page(name, name="reader")
    writer = open_page(name, name="writer")
    session = reader.session
    writer.start_publishing(name, PUBLISH_EVERY_MS)
    reader.wait_received(name, 10)
    reader.page.reload()
    reader.wait("window.hawsDemo !== undefined")
    reader.wait_connected()
    assert reader.session == session, "the reload resumed the same session"
    assert reader.js("hawsDemo.transitions.at(-1).reason") == "resumed"
    reader.wait_received(name, len(reader.seqs(name)) + 10)
    result = writer.stop_publishing()
    assert_exactly_once(reader, name, result["acks"])


def test_offline_page_publishes_and_the_message_is_stored_once(open_page: OpenPage) -> None:
    name = room()
    writer = open_page(name, name="writer")
    reader = open_page(name, name="reader")
    writer.context.set_offline(True)
    writer.wait("hawsDemo.client.state === 'disconnected'")
    assert writer.transitions()[-1]["reason"] == "offline"
    writer.js(
        "([room]) => { window.offlinePub = hawsDemo.publish(room, 'written offline'); }", [name]
    )
    assert writer.js("hawsDemo.client.pending") == 1
    writer.screenshot("offline")
    writer.context.set_offline(False)
    writer.wait_connected()
    ack = writer.js("window.offlinePub")
    assert_exactly_once(reader, name, [ack["seq"]])
    assert_exactly_once(writer, name, [ack["seq"]])
    texts = reader.js(
        "[...document.querySelectorAll('#messages li[data-seq]')].map(li => li.textContent)"
    )
    assert sum("written offline" in t for t in texts) == 1
