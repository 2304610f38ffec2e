"""The disconnect command from the server API to every gateway (msgpack over NATS).

Sent as a request on ``haws.ctl.disconnect`` without a queue group: every
gateway closes its matching connections and replies with how many it closed,
so the API can report the total of the nodes that answered.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import msgpack

from haws.protocol.errors import BadRequest, CloseCode


@dataclass(frozen=True, slots=True)
class DisconnectCommand:
    user: str | None = None
    session: str | None = None
    code: int = int(CloseCode.SERVER_DISCONNECT)
    reason: str = "disconnected by the server"
    reconnect: bool = True
    """False: the session record is deleted, so a later ``hello`` cannot resume it."""

    def __post_init__(self) -> None:
        if (self.user is None) == (self.session is None):
            raise BadRequest("disconnect names exactly one of user and session")
        if not 4000 <= self.code <= 4999:
            raise BadRequest("disconnect code must be in 4000..4999")

    def encode(self) -> bytes:
        return bytes(msgpack.packb(asdict(self), use_bin_type=True))

    @classmethod
    def decode(cls, raw: bytes) -> DisconnectCommand:
        try:
            return cls(**msgpack.unpackb(raw, raw=False))
        except (TypeError, ValueError, msgpack.UnpackException) as exc:
            raise BadRequest(f"bad disconnect command: {exc!r}") from None


@dataclass(frozen=True, slots=True)
class DisconnectReply:
    node: str
    closed: int

    def encode(self) -> bytes:
        return bytes(msgpack.packb(asdict(self), use_bin_type=True))

    @classmethod
    def decode(cls, raw: bytes) -> DisconnectReply:
        try:
            return cls(**msgpack.unpackb(raw, raw=False))
        except (TypeError, ValueError, msgpack.UnpackException) as exc:
            raise BadRequest(f"bad disconnect reply: {exc!r}") from None
