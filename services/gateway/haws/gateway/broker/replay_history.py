"""Where the gateway reads history: the replay service first, the stream itself second.

``History`` (``broker.seams``) is the seam; ``StreamReader`` (direct reads) and
``ReplayHistory`` (through the replay service, falling back to direct reads) both
satisfy it.
The fallback is degraded (every gateway reads the stream itself, no request
sharing) but correct, and counted in ``haws_gateway_replay_fallbacks_total``.
"""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry.trace import SpanKind

from haws.common import names
from haws.common.coalescer import Coalescer
from haws.common.replay_protocol import ReplayRequest, decode_page
from haws.common.stream_reader import MAX_BATCH, HistoryPage, StreamReader
from haws.common.telemetry import inject_headers, tracer
from haws.gateway.metrics import GatewayMetrics
from haws.protocol.errors import BadRequest

_tracer = tracer("gateway")


class ReplayHistory:
    def __init__(
        self,
        nc: NatsClient,
        direct: StreamReader,
        metrics: GatewayMetrics,
        *,
        timeout: float,
    ) -> None:
        self._nc = nc
        self._direct = direct
        self._metrics = metrics
        self._timeout = timeout
        self._shared: Coalescer[tuple[str, int, int, int | None], HistoryPage] = Coalescer()

    async def read(
        self, topic: str, after: int, limit: int = MAX_BATCH, *, until: int | None = None
    ) -> HistoryPage:
        request = ReplayRequest(topic=topic, after=after, limit=limit, until=until)
        with _tracer.start_as_current_span(
            "haws.replay.read", kind=SpanKind.CLIENT, attributes={"haws.topic": topic}
        ):
            # A reconnect storm brings many clients with the same cursor to this node:
            # one request, one decoded page (and its frames, see FrameCache) for all.
            page, _ = await self._shared.run(
                (topic, after, limit, until),
                lambda: self._read(request, topic, after, limit, until),
            )
            return page

    async def _read(
        self, request: ReplayRequest, topic: str, after: int, limit: int, until: int | None
    ) -> HistoryPage:
        try:
            reply = await self._nc.request(
                names.REPLAY_SUBJECT,
                request.encode(),
                timeout=self._timeout,
                headers=inject_headers({}),
            )
            page = decode_page(topic, reply.data)
        except (NatsTimeoutError, NoRespondersError, BadRequest) as exc:
            self._metrics.replay_fallbacks.labels(type(exc).__name__).inc()
            return await self._direct.read(topic, after, limit, until=until)
        self._metrics.replay_reads.inc()
        return page

    async def last_seq(self, topic: str) -> int:
        return await self._direct.last_seq(topic)
