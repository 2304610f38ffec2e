"""A subscriber: counts ``msg`` frames at the wire, cheaply.

Once subscribed, its topic's frames are counted by a ``MsgScanner`` straight
in the received bytes. Frames that reach ``on_frames`` (batched, msgpack, or
arriving before the scanner was attached) take the path below, which reads
``seq``, ``prev`` (and the send time ``t`` in ``data`` when latency is wanted)
with ``bytes.find`` and ``int``: every server here writes ``{"op":"msg",
"topic":..,"seq":..,"prev":..,"ts":..,"data":{"t":..,..}}`` with the keys in
that order. Other frames go to the slow path (``Peer.on_payload``); msgpack
frames are unpacked (C).
"""

from __future__ import annotations

from typing import Any

import msgpack

from bench.loadgen.connection import WsConnection
from bench.loadgen.dialects import Dialect
from bench.loadgen.flow import Flow
from bench.loadgen.peer import Peer, Reply
from bench.loadgen.scanner import MsgScanner
from bench.loadgen.tally import Latencies, SeqTally


class Subscriber(Peer):
    use_scanner = True
    """Subclasses that watch every message in ``on_frames`` turn the scanner off."""

    def __init__(
        self, dialect: Dialect, *, flow: Flow | None = None, latencies: Latencies | None = None
    ) -> None:
        super().__init__(dialect)
        self.tally = SeqTally()
        self.flow = flow
        self.scanner: MsgScanner | None = None
        self._latencies = latencies
        self.frames = 0
        """Data frames that took the ``on_frames`` path (not the scanner)."""

    @property
    def latencies(self) -> Latencies | None:
        """Where publish-to-delivery delays go; None: not measured (cheaper)."""
        return self._latencies

    @latencies.setter
    def latencies(self, latencies: Latencies | None) -> None:
        self._latencies = latencies
        if self.scanner is not None:
            self.scanner.latencies = latencies

    async def connect(
        self,
        base_url: str,
        *,
        session: str | None = None,
        cursors: dict[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> Reply:
        welcome = await super().connect(base_url, session=session, cursors=cursors, timeout=timeout)
        if self.conn is not None:
            self.conn.scanner = self.scanner
        return welcome

    async def subscribe(self, topic: str, since: int | None = None) -> Reply:
        head = self.dialect.msg_head(topic)
        if head is not None and self.scanner is None and self.use_scanner:
            self.scanner = MsgScanner(head, self.tally, self.flow, batch=self.dialect.batch)
            self.scanner.latencies = self._latencies
        if self.conn is not None:
            self.conn.scanner = self.scanner
        return await super().subscribe(topic, since)

    def on_frames(self, conn: WsConnection, received: list[tuple[int, bytes]], now: int) -> None:
        self.frames += len(received)
        before = self.tally.count
        if self.dialect.binary:
            self._msgpack(conn, received, now)
        else:
            self._json(conn, received, now)
        new = self.tally.count - before
        if new and self.flow is not None:
            self.flow.add(new)

    def _json(self, conn: WsConnection, received: list[tuple[int, bytes]], now: int) -> None:
        prefix = self.dialect.msg_prefix
        skip = len(prefix)
        batch = self.dialect.batch
        add = self.tally.add
        lat = self._latencies.samples if self._latencies is not None else None
        for _, payload in received:
            for line in payload.split(b"\n") if batch else (payload,):
                if not line.startswith(prefix):
                    self.on_payload(conn, line, now)
                    continue
                i = line.find(b'"seq":', skip) + 6
                j = line.find(b",", i)
                seq = int(line[i:j])
                i = line.find(b'"prev":', j) + 7
                j = line.find(b",", i)
                if add(seq, int(line[i:j])) and lat is not None:
                    i = line.find(b'"t":', j) + 4
                    j = line.find(b",", i)
                    lat.append(now - int(line[i:j]))

    def _msgpack(self, conn: WsConnection, received: list[tuple[int, bytes]], now: int) -> None:
        add = self.tally.add
        lat = self._latencies.samples if self._latencies is not None else None
        for _, payload in received:
            obj: Any = msgpack.unpackb(payload, raw=False)
            for frame in obj if isinstance(obj, list) else (obj,):
                if frame.get("op") != "msg":
                    self.on_control(frame, now)
                elif add(frame["seq"], frame["prev"]) and lat is not None:
                    lat.append(now - frame["data"]["t"])
