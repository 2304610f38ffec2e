"""A subscriber: counts ``msg`` frames at the wire, cheaply.

The hot path reads ``seq``, ``prev`` (and the send time ``t`` in ``data`` when
latency is wanted) with ``bytes.find`` and ``int`` on the frame as received:
every server here writes ``{"op":"msg","topic":..,"seq":..,"prev":..,"ts":..,
"data":{"t":..,..}}`` with the keys in that order. Other frames go to the
slow path (``Peer.on_payload``). msgpack frames are unpacked (C) instead.
"""

from __future__ import annotations

from typing import Any

import msgpack

from bench.loadgen.connection import WsConnection
from bench.loadgen.dialects import Dialect
from bench.loadgen.flow import Flow
from bench.loadgen.peer import Peer
from bench.loadgen.tally import Latencies, SeqTally


class Subscriber(Peer):
    def __init__(
        self, dialect: Dialect, *, flow: Flow | None = None, latencies: Latencies | None = None
    ) -> None:
        super().__init__(dialect)
        self.tally = SeqTally()
        self.flow = flow
        self.latencies = latencies
        self.start = 0
        """The first seq this subscriber is owed (set once the publisher knows it)."""
        self.frames = 0
        """WebSocket data frames received (fewer than messages when batched)."""

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
        lat = self.latencies.samples if self.latencies is not None else None
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
        lat = self.latencies.samples if self.latencies is not None else None
        for _, payload in received:
            obj: Any = msgpack.unpackb(payload, raw=False)
            for frame in obj if isinstance(obj, list) else (obj,):
                if frame.get("op") != "msg":
                    self.on_control(frame, now)
                elif add(frame["seq"], frame["prev"]) and lat is not None:
                    lat.append(now - frame["data"]["t"])
