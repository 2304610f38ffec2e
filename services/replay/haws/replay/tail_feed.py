"""What fills the replay tail: every stored message, as the stream republishes it.

The republished copy carries the stream's seq, the topic's previous seq and the
stored headers, so it becomes the very row a direct-get read would have made
(``replay_protocol.row_of``), encoded once. Taken through the raw tap: a
``Msg`` and a header dict per message would cost more than the row itself.
Core NATS may drop a message; the tail's chain notices (``tail``).
"""

from __future__ import annotations

from nats.aio.client import Client as NatsClient

from haws.common import names
from haws.common.logs import EventLogger
from haws.common.messages import SEQUENCE_KEY
from haws.common.raw_replies import RawSubscription, header, header_key, subscribe_raw
from haws.common.replay_protocol import pack_row, row_of
from haws.replay.metrics import ReplayMetrics
from haws.replay.tail import Tails

_PREV_KEY = header_key(names.HDR_LAST_SEQUENCE)
_LIVE = names.LIVE_PREFIX.encode()
_CANARY = names.CANARY_TOPIC_PREFIX.encode()

PENDING_MSGS = 1_000_000
PENDING_BYTES = 512 << 20
"""For nats-py's ordinary path only (the tap hands each message over as it is parsed)."""


class TailFeed:
    def __init__(
        self, nc: NatsClient, tails: Tails, metrics: ReplayMetrics, log: EventLogger
    ) -> None:
        self._nc = nc
        self._tails = tails
        self._metrics = metrics
        self._log = log
        self._sub: RawSubscription | None = None

    async def start(self) -> None:
        """Returns once the server has the interest: from here no stored message is
        missed but by a drop, which the chain finds."""
        self._sub = await subscribe_raw(
            self._nc,
            names.REPUBLISH_DEST,
            self.on_message,
            pending_msgs_limit=PENDING_MSGS,
            pending_bytes_limit=PENDING_BYTES,
        )
        await self._nc.flush()

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.stop()
            self._sub = None

    def on_message(self, subject: bytes, block: bytes | None, data: bytes) -> None:
        if not subject.startswith(_LIVE) or subject.startswith(_CANARY, len(_LIVE)):
            return  # the canaries' own topics are purged by their nodes: never replayed
        try:
            if block is None:
                raise ValueError("no headers")
            seq_text = header(block, SEQUENCE_KEY)
            if seq_text is None:
                raise ValueError("no sequence")
            seq = int(seq_text)
            prev = int(header(block, _PREV_KEY) or 0)
            topic = subject[len(_LIVE) :].decode()
            row = row_of(block, data, seq, prev)
        except (ValueError, UnicodeDecodeError) as exc:
            where = subject.decode("utf-8", "replace")
            self._log.warning("replay.tail_bad_message", subject=where, error=repr(exc))
            return
        if self._tails.append(topic, seq, prev, row[2], pack_row(row)):
            self._metrics.tail_restarts.inc()
