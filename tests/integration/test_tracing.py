"""A publish on one node and its delivery on another share one trace.

The trace context travels in the stored message's NATS headers (traceparent),
so the delivering node continues the publisher's trace.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.integration.conftest import Connect
from tests.support.gateway_runner import RunningGateway
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The global provider can be set once per process; later tests keep it (harmless).
    trace.set_tracer_provider(provider)
    yield exporter
    exporter.clear()


async def test_publish_and_remote_delivery_share_a_trace_id(
    spans: InMemorySpanExporter,
    gateway: RunningGateway,
    gateway2: RunningGateway,
    connect: Connect,
    topic: str,
) -> None:
    receiver = await connect(gateway2.url)
    await receiver.sub(topic)
    publisher = await connect(gateway.url)
    ack = await publisher.pub(topic, "traced")
    await receiver.wait_msgs(topic, 1)

    def spans_named(name: str) -> list[ReadableSpan]:
        return [
            s
            for s in spans.get_finished_spans()
            if s.name == name and (s.attributes or {}).get("haws.topic") == topic
        ]

    await eventually(lambda: len(spans_named("haws.deliver")) == 1, message="delivery span")
    (pub,) = spans_named("haws.pub")
    (deliver,) = spans_named("haws.deliver")
    assert pub.attributes is not None
    assert pub.attributes["haws.seq"] == ack["seq"]
    assert deliver.parent is not None, "the delivery span continues no trace"
    assert deliver.context.trace_id == pub.context.trace_id
    assert deliver.parent.span_id == pub.context.span_id
