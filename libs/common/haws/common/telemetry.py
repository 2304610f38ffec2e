"""OpenTelemetry tracing, off unless configured, with context carried in NATS headers.

A publish on one node and its delivery on another share a trace because the
gateway injects ``traceparent`` into the stored message's headers and the
delivering node extracts it.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter


def setup_tracing(service: str, exporter: str) -> None:
    """``exporter``: ``none`` (default), ``console``, or ``otlp`` (the ``otlp`` extra;
    endpoint and headers from the standard ``OTEL_EXPORTER_OTLP_*`` variables)."""
    if exporter in ("", "none"):
        return
    span_exporter: SpanExporter
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        span_exporter = OTLPSpanExporter()
    else:
        raise ValueError(f"unknown trace exporter {exporter!r}")
    provider = TracerProvider(resource=Resource.create({"service.name": f"haws-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(f"haws.{name}")


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context (``traceparent``) to outgoing NATS headers."""
    propagate.inject(headers)
    return headers


def extract_context(headers: Mapping[str, str] | None) -> context.Context:
    return propagate.extract(dict(headers or {}))
