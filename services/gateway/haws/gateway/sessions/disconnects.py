"""The server API's ``disconnect`` command, obeyed by every gateway.

Every node hears the command (no queue group), closes its connections of the
named user or session with the command's close code, and replies with how many
it closed. ``reconnect: false`` ends the session for good: the connection may
no longer write its session record, and the record is deleted once the
connection has stopped, so a later ``hello`` with that session resumes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from haws.common import names
from haws.common.disconnect_protocol import DisconnectCommand, DisconnectReply
from haws.common.logs import EventLogger
from haws.common.tasks import stop_tasks
from haws.gateway.delivery.connection import CLOSE_TIMEOUT, Connection
from haws.gateway.fanout.hub import Hub
from haws.gateway.sessions.store import SessionStore
from haws.protocol.errors import BadRequest

MAX_REASON_BYTES = 120
"""A close frame's reason must fit in a control frame (125 bytes with the code)."""


class DisconnectListener:
    def __init__(
        self, nc: NatsClient, hub: Hub, sessions: SessionStore, log: EventLogger, *, node: str
    ) -> None:
        self._nc = nc
        self._hub = hub
        self._sessions = sessions
        self._log = log
        self._node = node
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(names.GATEWAY_DISCONNECT, cb=self._on_command)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        await stop_tasks(self._tasks)

    async def _on_command(self, msg: Msg) -> None:
        # Its own task: waiting for connections to stop must not hold up the next command.
        task = asyncio.create_task(self._obey(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _matching(self, command: DisconnectCommand) -> list[Connection]:
        if command.session is not None:
            conn = self._hub.by_session.get(command.session)
            return [conn] if conn is not None else []
        return [c for c in self._hub.connections if c.user == command.user]

    async def _obey(self, msg: Msg) -> None:
        try:
            command = DisconnectCommand.decode(msg.data)
        except BadRequest as exc:
            self._log.warning("gateway.bad_disconnect", error=exc.message)
            return
        conns = [c for c in self._matching(command) if not c.closing]
        reason = command.reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
        for conn in conns:
            conn.log.info("ws.disconnect", code=command.code, reconnect=command.reconnect)
            if not command.reconnect:
                conn.mark_taken_over()  # its record must not be written again
            conn.close(command.code, reason)
        if not command.reconnect:
            await self._end_sessions(conns)
        if msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(DisconnectReply(self._node, len(conns)).encode())

    async def _end_sessions(self, conns: list[Connection]) -> None:
        """Delete the records once the connections stopped (a write in flight lands first)."""

        async def end(conn: Connection) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.wait_closed(), CLOSE_TIMEOUT * 2)
            try:
                await self._sessions.delete(conn.session)
            except Exception as exc:  # KV away: the record expires with its TTL
                self._log.warning("gateway.session_delete_failed", error=repr(exc))

        await asyncio.gather(*(end(c) for c in conns))
