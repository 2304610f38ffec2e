"""What fan-out needs from a connection: a codec, a queue with room, a way out.

``delivery.connection.Connection`` is the one implementation; fan-out depends on
this seam only, so neither package imports the other's internals and unit tests
of catch-up and topics pass a connection of their own.
"""

from __future__ import annotations

from typing import Any, Protocol

from haws.gateway.delivery.send_queue import SendQueue
from haws.protocol.codec import Codec


class Subscriber(Protocol):
    @property
    def codec(self) -> Codec: ...

    @property
    def session(self) -> str: ...

    @property
    def batch(self) -> bool:
        """The client asked for ``batch``: several frames travel in one message."""
        ...

    @property
    def queue(self) -> SendQueue:
        """Where frames wait for the socket (catch-up paces itself by its room)."""
        ...

    @property
    def closing(self) -> bool:
        """A close is requested or done: nothing more needs to be sent."""
        ...

    def send(self, frame: bytes) -> bool:
        """Queue an encoded frame; ``False`` when the queue overflowed (the
        connection then closes itself, slow consumer)."""
        ...

    def write_run(self, data: bytes, frames: list[bytes], size: int) -> None:
        """A topic's frames of this iteration (``SharedRun``): ``data`` is their bytes
        on the wire for this connection's codec and batch mode, ``size`` the sum of
        their lengths. Written now when nothing is queued ahead of them, else queued
        behind it like ``send``."""
        ...

    def send_obj(self, frame: dict[str, Any]) -> bool:
        """Encode with the connection's codec, then ``send``."""
        ...

    def close(self, code: int, reason: str) -> None:
        """Write what is queued, then close with ``code``."""
        ...
