"""OpenTelemetry tracing: the tracer provider, and child spans around units of work, their SQL
statements (opentelemetry-instrumentation-psycopg) and outbound HTTP (opentelemetry-instrumentation-httpx).

The SDK reads the standard variables itself (OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS, _TIMEOUT,
OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, the sampler's); spans leave in batches over OTLP,
http/protobuf or grpc (docs/adr/0030). Nothing here is imported while tracing is off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from pytrue.adapters.observability.metrics import otel_resource

TRACER_NAME = "gotrue"


def tracer_provider(protocol: str, service_name: str) -> tuple[Any, Callable[[], None]]:
    """A provider exporting over OTLP in batches, and its shutdown (which flushes what is pending)."""
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    provider = TracerProvider(resource=otel_resource(service_name))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]))
    return provider, provider.shutdown


class TracedUnitOfWorkFactory:
    """Each unit of work (one transaction) is a client span of the request's span."""

    def __init__(self, inner: Callable[[], Any], tracer: Any, system: str) -> None:
        self._inner = inner
        self._tracer = tracer
        self._system = system

    def __call__(self) -> _TracedUnitOfWork:
        return _TracedUnitOfWork(self._inner(), self._tracer, self._system)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _TracedUnitOfWork:
    __slots__ = ("_inner", "_tracer", "_system", "_span", "_token")

    def __init__(self, inner: Any, tracer: Any, system: str) -> None:
        self._inner = inner
        self._tracer = tracer
        self._system = system
        self._span: Any = None
        self._token: Any = None

    async def __aenter__(self) -> Any:
        self._span = self._tracer.start_span(
            "db.unit_of_work", kind=SpanKind.CLIENT, attributes={"db.system.name": self._system}
        )
        # current while the unit of work runs: its SQL statements are its children
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        try:
            return await self._inner.__aenter__()
        except BaseException as exc:
            self._finish(exc)
            raise

    async def __aexit__(self, kind: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self._inner.__aexit__(kind, exc, tb)
        finally:
            self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        if exc is not None:
            # a domain refusal (wrong password, …) is an answer, not a failure of the database
            self._span.set_attribute("error.type", type(exc).__name__)
        if self._token is not None:
            token, self._token = self._token, None
            try:
                otel_context.detach(token)
            except ValueError:  # left in another task's context: the span still ends
                pass
        self._span.end()


def traced_transport(provider: Any) -> httpx.AsyncBaseTransport:
    """Outbound HTTP as client spans, the W3C `traceparent` passed on to the callee: OpenTelemetry's
    own httpx instrumentation, as a transport of the shared client (nothing global is patched)."""
    from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport

    return AsyncOpenTelemetryTransport(httpx.AsyncHTTPTransport(), tracer_provider=provider)


def traced_connection(provider: Any) -> Callable[[Any], None]:
    """Each SQL statement a psycopg connection runs as a client span: OpenTelemetry's psycopg
    instrumentation, applied to every connection a unit of work takes (once per connection)."""
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    def instrument(connection: Any) -> None:
        if not getattr(connection, "_is_instrumented_by_opentelemetry", False):
            PsycopgInstrumentor.instrument_connection(connection, tracer_provider=provider)

    return instrument


def get_tracer(provider: Any) -> Any:
    return trace.get_tracer(TRACER_NAME, tracer_provider=provider)
