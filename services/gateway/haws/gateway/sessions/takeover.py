"""One owner per session: moving a connection away when its session is taken over.

The older connection gets ``reconnect`` (``takeover``) and close 4009, whether
the newer ``hello`` came to this node, to another node (the presence service
sends a ``Takeover``), or this node learns after a pause that it lost it.
"""

from __future__ import annotations

from haws.common import frames
from haws.common import presence_protocol as pp
from haws.gateway.delivery.connection import Connection
from haws.gateway.fanout.hub import Hub
from haws.protocol.errors import CloseCode


def take_over(conn: Connection, why: str) -> None:
    if conn.closing:
        return
    conn.log.info("ws.taken_over", why=why)
    conn.mark_taken_over()
    conn.send_obj(frames.reconnect("takeover", 0))
    conn.close(CloseCode.TAKEN_OVER, "session taken over")


def on_takeover(hub: Hub, command: pp.Takeover) -> None:
    conn = hub.by_session.get(command.session)
    if conn is not None and conn.conn_id == command.conn and conn.epoch < command.epoch:
        take_over(conn, "claimed elsewhere")


def on_fenced(hub: Hub, sessions: list[str]) -> None:
    for session in sessions:
        conn = hub.by_session.get(session)
        if conn is not None:
            take_over(conn, "lost while this node was paused")
