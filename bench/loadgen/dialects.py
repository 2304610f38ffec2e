"""What the load generator says on the wire to each kind of server.

Three dialects: haws protocol v1 in JSON (also spoken by the raw aiohttp
baseline; ``batch`` opts in to newline-packed frames), haws v1 in msgpack, and
socket.io 4 over a bare engine.io WebSocket (both socket.io baselines). Every
server sends the same ``msg`` object ``{op, topic, seq, prev, ts, data}``; in
socket.io it is the argument of a ``msg`` event.

Requests carry an integer id and their replies are normalised to a dict with
``op`` (``welcome``, ``ok``, ``ack``, ``recovered``, ``error``, ``open``,
``connected``), so the client code above is the same for every server.
"""

from __future__ import annotations

from typing import Any, Final

import msgpack
import orjson

from bench.loadgen.frames import BINARY, TEXT, client_frame

PAD_BYTES: Final = 64
"""Size of the filler string in every published ``data`` (a small chat message)."""

PAD: Final = "x" * PAD_BYTES


def payload_data(t_ns: int) -> dict[str, Any]:
    """The ``data`` of every published message: send time first, then filler."""
    return {"t": t_ns, "b": PAD}


class Dialect:
    """haws protocol v1, JSON subprotocol."""

    name = "haws.v1.json"
    family = "haws"
    path = "/ws"
    subprotocol: str | None = "haws.v1.json"
    binary = False
    msg_prefix = b'{"op":"msg"'

    def __init__(self, *, batch: bool = False, presence: bool = False) -> None:
        self.batch = batch
        self.presence = presence
        """``sub`` with ``presence: true`` (join/leave are published for the session)."""

    def frame(self, payload: bytes) -> bytes:
        return client_frame(BINARY if self.binary else TEXT, payload)

    def encode(self, obj: dict[str, Any]) -> bytes:
        return self.frame(orjson.dumps(obj))

    def hello(self, session: str | None = None, cursors: dict[str, int] | None = None) -> bytes:
        frame: dict[str, Any] = {"op": "hello", "v": 1}
        if session:
            frame["session"] = session
        if cursors:
            frame["cursors"] = cursors
        if self.batch:
            frame["batch"] = True
        return self.encode(frame)

    def sub(self, rid: int, topic: str, since: int | None = None) -> bytes:
        frame: dict[str, Any] = {"op": "sub", "id": rid, "topic": topic}
        if since is not None:
            frame["since"] = since
        if self.presence:
            frame["presence"] = True
        return self.encode(frame)

    def pub(self, rid: int, topic: str, t_ns: int) -> bytes:
        # Formatted, not dumped: the publisher's one per-message cost stays small.
        return self.frame(
            b'{"op":"pub","id":%d,"topic":"%s","data":{"t":%d,"b":"%s"}}'
            % (rid, topic.encode(), t_ns, PAD.encode())
        )

    def msg_head(self, topic: str) -> bytes | None:
        """What every ``msg`` frame (every line of a batch) of ``topic`` starts with,
        up to the digits of ``seq`` (None when frames are binary)."""
        if self.binary:
            return None
        return self.msg_prefix + b',"topic":"%s","seq":' % topic.encode()

    def control(self, payload: bytes) -> dict[str, Any] | None:
        """A reply or event other than ``msg``, as a dict with ``op``."""
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
        return obj if isinstance(obj, dict) else None


class MsgpackDialect(Dialect):
    """haws protocol v1, msgpack subprotocol (binary frames)."""

    name = "haws.v1.msgpack"
    subprotocol = "haws.v1.msgpack"
    binary = True
    msg_prefix = b""

    def encode(self, obj: dict[str, Any]) -> bytes:
        return self.frame(msgpack.packb(obj))

    def pub(self, rid: int, topic: str, t_ns: int) -> bytes:
        return self.encode({"op": "pub", "id": rid, "topic": topic, "data": payload_data(t_ns)})

    def control(self, payload: bytes) -> dict[str, Any] | None:
        obj = msgpack.unpackb(payload, raw=False)
        return obj if isinstance(obj, dict) else None


class SocketIoDialect(Dialect):
    """socket.io 4 (engine.io 4) over a WebSocket opened directly, no polling."""

    name = "socket.io"
    family = "socket.io"
    path = "/socket.io/?EIO=4&transport=websocket"
    subprotocol = None
    msg_prefix = b'42["msg",'

    def __init__(self) -> None:
        super().__init__(batch=False)

    def msg_head(self, topic: str) -> bytes | None:
        return b'42["msg",{"op":"msg","topic":"%s","seq":' % topic.encode()

    def hello(self, session: str | None = None, cursors: dict[str, int] | None = None) -> bytes:
        """The namespace connect, sent after engine.io's open packet; with a
        ``session`` (``pid``) and an offset it asks for connection state recovery."""
        if session and cursors:
            offset = next(iter(cursors.values()))
            return self.frame(b"40" + orjson.dumps({"pid": session, "offset": offset}))
        return self.frame(b"40")

    def _emit(self, rid: int, event: str, arg: dict[str, Any]) -> bytes:
        return self.frame(b"42%d" % rid + orjson.dumps([event, arg]))

    def sub(self, rid: int, topic: str, since: int | None = None) -> bytes:
        return self._emit(rid, "sub", {"topic": topic})

    def pub(self, rid: int, topic: str, t_ns: int) -> bytes:
        return self.frame(
            b'42%d["pub",{"topic":"%s","data":{"t":%d,"b":"%s"}}]'
            % (rid, topic.encode(), t_ns, PAD.encode())
        )

    def control(self, payload: bytes) -> dict[str, Any] | None:
        if payload[:1] == b"0":
            return {"op": "open", **orjson.loads(payload[1:])}
        if payload[:2] == b"40":
            return {"op": "connected", **(orjson.loads(payload[2:]) if len(payload) > 2 else {})}
        if payload[:2] == b"43":
            start = payload.find(b"[")
            args = orjson.loads(payload[start:])
            reply = args[0] if args and isinstance(args[0], dict) else {"op": "ack"}
            return {**reply, "id": int(payload[2:start])}
        if payload[:2] == b"44":
            return {"op": "error", "code": "connect_error", "message": payload[2:].decode()}
        if payload[:2] == b"41":
            return {"op": "disconnect"}
        return None


PING_REPLY: Final = client_frame(TEXT, b"3")
"""engine.io answers a server ping (``2``) with a pong (``3``)."""
