"""The fastest path: count one topic's ``msg`` frames straight in the received bytes.

A fan-out subscriber spends nearly all its time on ``msg`` frames of its one
topic, which all start with the same bytes up to ``"seq":`` (the topic is
known). ``MsgScanner.scan`` walks the frame headers of a received chunk and
reads ``seq`` and ``prev`` (and ``data.t``) at fixed offsets, without slicing
the frames out or calling per frame; anything else (replies, pings, closes, a
frame cut by the chunk's end) is handed back for the ordinary ``FrameReader``.
A batch frame (JSON lines joined by newlines) whose every line is such a
``msg`` is walked line by line the same way, so ``batch`` costs the generator
no more per message than single frames do; a batch mixing in other frames
takes the ordinary path whole.
"""

from __future__ import annotations

from bench.loadgen.flow import Flow
from bench.loadgen.tally import Latencies, SeqTally


class MsgScanner:
    __slots__ = ("batch", "flow", "head", "latencies", "tally")

    def __init__(
        self, head: bytes, tally: SeqTally, flow: Flow | None, *, batch: bool = False
    ) -> None:
        self.head = head
        self.batch = batch
        """Frames may be batches: look for further lines (single frames skip that)."""
        """Every msg frame's payload starts with this, up to the digits of ``seq``."""
        self.tally = tally
        self.flow = flow
        self.latencies: Latencies | None = None

    def scan(self, data: bytes, now: int) -> tuple[int, bytes]:
        """Count the msg frames in ``data``; returns where the first incomplete frame
        begins and the other whole frames, as raw bytes, for the ordinary reader."""
        head = self.head
        startswith = data.startswith
        find = data.find
        count_of = data.count
        line_head = b"\n" + head
        batch = self.batch
        skip = len(head)
        tally = self.tally
        last, count, first = tally.last, tally.count, tally.first
        dups = breaks = 0
        lat = self.latencies.samples if self.latencies is not None else None
        others: list[bytes] = []
        pos = 0
        end = len(data)
        while end - pos >= 2:
            n = data[pos + 1] & 0x7F
            if n < 126:
                h = pos + 2
            elif n == 126:
                if end - pos < 4:
                    break
                n = (data[pos + 2] << 8) | data[pos + 3]
                h = pos + 4
            else:
                if end - pos < 10:
                    break
                n = int.from_bytes(data[pos + 2 : pos + 10], "big")
                h = pos + 10
            stop = h + n
            if stop > end:
                break
            if (
                data[pos] == 0x81  # a final text frame
                and startswith(head, h)  # of our msgs, each line if it is a batch
                and (not batch or count_of(b"\n", h, stop) == count_of(line_head, h, stop))
            ):
                line = h
                while True:
                    s = line + skip
                    j = find(b",", s)
                    seq = int(data[s:j])
                    if seq > last:
                        k = find(b",", j + 8)  # ,"prev":
                        if last and int(data[j + 8 : k]) != last:
                            breaks += 1
                        if not first:
                            first = seq
                        last = seq
                        count += 1
                        if lat is not None:
                            t = find(b'"t":', k) + 4
                            lat.append(now - int(data[t : find(b",", t)]))
                    else:
                        dups += 1
                    if not batch:
                        break
                    line = find(b"\n", s, stop) + 1
                    if not line:
                        break
            else:
                others.append(data[pos:stop])
            pos = stop
        new = count - tally.count
        tally.last, tally.count, tally.first = last, count, first
        tally.dups += dups
        tally.breaks += breaks
        if new and self.flow is not None:
            self.flow.add(new)
        return pos, b"".join(others) if others else b""
