"""A connection's token over time: the close at expiry, and ``refresh`` before it.

A token is checked at ``hello``, but a connection may outlive it. At ``exp``
plus a grace the connection gets ``error`` ``unauthorized`` and close 4001,
unless the client sent ``refresh`` with a newer token for the same user first.
The new token's grants replace the old ones: subscriptions they no longer
cover are dropped, each with ``error`` ``forbidden`` naming the topic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from haws.common import frames
from haws.gateway.delivery.connection import Connection
from haws.gateway.security.auth import Authenticator
from haws.protocol.client_frames import Refresh
from haws.protocol.errors import CloseCode, Forbidden, Unauthorized

Revoke = Callable[[Connection, str], None]


def watch_expiry(conn: Connection, grace: float) -> None:
    """(Re)arm the close at the token's ``exp`` + ``grace``."""
    expires = conn.principal.expires
    if expires is None:
        conn.disarm_expiry()
        return
    delay = max(0.0, expires + grace - time.time())
    conn.arm_expiry(delay, lambda: _expired(conn))


def stop_watching(conn: Connection) -> None:
    conn.disarm_expiry()


def _expired(conn: Connection) -> None:
    if conn.closing:
        return
    conn.log.info("ws.token_expired", user=conn.user)
    conn.send_obj(frames.error(Unauthorized("token expired (send refresh before exp)")))
    conn.close(CloseCode.UNAUTHORIZED, "token expired")


def forbidden_topic(topic: str, why: str) -> dict[str, Any]:
    """An unsolicited ``error`` about one topic (haws: the frame names it in ``topic``)."""
    frame = frames.error(Forbidden(f"{why}: {topic}"))
    frame["topic"] = topic
    return frame


async def refresh(
    conn: Connection, frame: Refresh, auth: Authenticator, grace: float, revoke: Revoke
) -> None:
    """Replace the connection's principal by the new token's, or raise ``Unauthorized``.

    A bad token is answered ``error`` ``unauthorized`` and the connection goes on
    under its old token (which still expires on time); a token for another user
    closes the connection 4001, since one connection is one user.
    """
    try:
        principal = await auth.authenticate(frame.token)
    except Unauthorized as exc:
        exc.request_id = frame.id
        raise
    if principal.user != conn.principal.user:
        conn.log.warning("ws.refresh_other_user", user=conn.user)
        conn.close(CloseCode.UNAUTHORIZED, "refresh for another user")
        return
    conn.reauthorize(principal)
    for topic in [t for t in conn.subs if not principal.grants.may_sub(t)]:
        revoke(conn, topic)
    watch_expiry(conn, grace)
    conn.send_obj(frames.refreshed(frame.id, principal.expires))
