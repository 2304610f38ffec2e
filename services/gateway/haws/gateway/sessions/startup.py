"""Start a node's session keeper and presence link around its hub, stopped in reverse.

One wiring for the service and for the in-memory gateway the tests build, so the
tests prove the real one: which hub callbacks presence gets (takeovers, fencing,
the connection count and session list for heartbeats) is decided here only.
"""

from __future__ import annotations

import contextlib

from haws.common.logs import EventLogger
from haws.gateway.broker.seams import PresenceCalls
from haws.gateway.fanout.hub import Hub
from haws.gateway.sessions.fence import Fence
from haws.gateway.sessions.keeper import SessionKeeper
from haws.gateway.sessions.presence_link import PresenceLink
from haws.gateway.sessions.store import SessionStore
from haws.gateway.sessions.takeover import on_fenced, on_takeover
from haws.gateway.settings import GatewaySettings


async def start_sessions(
    stack: contextlib.AsyncExitStack,
    settings: GatewaySettings,
    *,
    node: str,
    hub: Hub,
    records: SessionStore,
    calls: PresenceCalls,
    fence: Fence,
    log: EventLogger,
) -> tuple[SessionKeeper, PresenceLink]:
    """Both started, their stops pushed on ``stack`` (presence stops before the keeper)."""
    sessions = SessionKeeper(
        records,
        hub,
        log,
        node=node,
        interval=settings.session_flush_interval,
        cursor_interval=settings.session_cursor_interval,
        ttl=settings.session_ttl,
    )
    sessions.start()
    stack.push_async_callback(sessions.stop)
    presence = PresenceLink(
        calls,
        log,
        node=node,
        fence=fence,
        heartbeat_interval=settings.presence_heartbeat,
        linger=settings.presence_linger,
    )
    await presence.start(
        on_takeover=lambda command: on_takeover(hub, command),
        connections=lambda: len(hub.connections),
        sessions=lambda: list(hub.by_session),
        fenced=lambda lost: on_fenced(hub, lost, presence.claiming),
    )
    stack.push_async_callback(presence.stop)
    return sessions, presence
