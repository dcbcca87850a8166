"""The metrics pytrue records, on Prometheus (`prometheus_client`) or OpenTelemetry instruments.

`Instruments` implements the application's `Metrics` port and what the HTTP layer, the password
hasher and the connection pools report. Every worker process builds its own; with Prometheus,
`pytrue serve` has put `prometheus_client` in multiprocess mode (PROMETHEUS_MULTIPROC_DIR) before
the workers started, so each process writes its values to files in that directory and the one
exporter of the serving process adds them up (`exporter.py`, docs/adr/0030).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

# The request latency buckets (seconds): sign-in and sign-up hash a password (tens of ms).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Add = Callable[[Sequence[str], float], None]


class Backend(Protocol):
    def counter(self, name: str, doc: str, labels: Sequence[str]) -> Add: ...

    def histogram(self, name: str, doc: str, labels: Sequence[str]) -> Add: ...

    def gauge(self, name: str, doc: str, labels: Sequence[str]) -> Add:
        """Sets the gauge (per process; exporters add the live processes' values up)."""
        ...


class Instruments:
    """Every metric, named once; labels are fixed vocabularies (never an id, an address or a secret)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = b = backend
        # GoTrue's own names where it has the metric (http_status_codes, the email send counters)
        self._status = b.counter("http_status_codes", "Number of returned HTTP status codes", ("code", "http_route"))
        self._duration = b.histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP requests per route template, method and status",
            ("http_request_method", "http_route", "http_response_status_code"),
        )
        self._sign_ins = b.counter("gotrue_sign_ins", "Sessions opened by a sign-in, per method", ("method", "provider"))
        self._sign_ups = b.counter("gotrue_sign_ups", "Users created by a sign-up, per method", ("method", "provider"))
        self._refreshes = b.counter("gotrue_token_refreshes", "Refresh tokens exchanged for new access tokens", ())
        self._emails = b.counter("global_auth_email_send_operations", "Number of email send operations", ())
        self._email_errors = b.counter("global_auth_email_send_errors", "Number of email send errors", ())
        self._sms = b.counter("gotrue_sms_send_operations", "Number of SMS send operations", ())
        self._sms_errors = b.counter("gotrue_sms_send_errors", "Number of SMS send errors", ())
        self._hash_in_flight = b.gauge("gotrue_password_hash_in_flight", "Password hashes running or waiting", ())
        self._hash_queue = b.gauge("gotrue_password_hash_queue_depth", "Password hashes waiting for a hashing thread", ())
        self._pool_size = b.gauge("gotrue_db_pool_connections", "Connections open in the pool", ("pool",))
        self._pool_idle = b.gauge("gotrue_db_pool_connections_idle", "Open connections not in use", ("pool",))
        self._pool_max = b.gauge("gotrue_db_pool_connections_max", "Most connections the pool may open", ("pool",))
        self._pool_waiting = b.gauge("gotrue_db_pool_requests_waiting", "Requests waiting for a connection", ("pool",))
        self._running = b.gauge("gotrue_running", "Worker processes running (1 each)", ())
        self._running((), 1)

    # --- the application's Metrics port ----------------------------------------------------
    def signed_in(self, method: str, provider: str = "") -> None:
        self._sign_ins((method, provider), 1)

    def signed_up(self, method: str, provider: str = "") -> None:
        self._sign_ups((method, provider), 1)

    def token_refreshed(self) -> None:
        self._refreshes((), 1)

    def email_sent(self, ok: bool) -> None:
        self._emails((), 1)
        if not ok:
            self._email_errors((), 1)

    def sms_sent(self, ok: bool) -> None:
        self._sms((), 1)
        if not ok:
            self._sms_errors((), 1)

    # --- the HTTP layer and the samplers ---------------------------------------------------
    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        code = str(status)
        self._status((code, route), 1)
        self._duration((method, route, code), seconds)

    def hashing(self, in_flight: int, threads: int) -> None:
        self._hash_in_flight((), in_flight)
        self._hash_queue((), max(0, in_flight - threads))

    def pool(self, name: str, stats: dict[str, int]) -> None:
        """psycopg_pool's `get_stats()`: pool_size, pool_available, pool_max, requests_waiting."""
        label = (name,)
        self._pool_size(label, stats.get("pool_size", 0))
        self._pool_idle(label, stats.get("pool_available", 0))
        self._pool_max(label, stats.get("pool_max", 0))
        self._pool_waiting(label, stats.get("requests_waiting", 0))


class PrometheusBackend:
    """`prometheus_client` metrics; gauges are summed over the live processes in multiprocess mode."""

    def __init__(self, registry: Any = None) -> None:
        from prometheus_client import CollectorRegistry

        self._registry = registry if registry is not None else CollectorRegistry(auto_describe=True)

    @property
    def registry(self) -> Any:
        return self._registry

    def counter(self, name: str, doc: str, labels: Sequence[str]) -> Add:
        from prometheus_client import Counter

        return _bind(Counter(name, doc, labels, registry=self._registry), "inc")

    def histogram(self, name: str, doc: str, labels: Sequence[str]) -> Add:
        from prometheus_client import Histogram

        return _bind(Histogram(name, doc, labels, registry=self._registry, buckets=LATENCY_BUCKETS), "observe")

    def gauge(self, name: str, doc: str, labels: Sequence[str]) -> Add:
        from prometheus_client import Gauge

        return _bind(Gauge(name, doc, labels, registry=self._registry, multiprocess_mode="livesum"), "set")


def _bind(metric: Any, verb: str) -> Add:
    if not metric._labelnames:
        method = getattr(metric, verb)
        return lambda _labels, value: method(value)
    children: dict[tuple[str, ...], Callable[[float], None]] = {}

    def add(labels: Sequence[str], value: float) -> None:
        key = tuple(labels)
        child = children.get(key)
        if child is None:
            child = children[key] = getattr(metric.labels(*key), verb)
        child(value)

    return add


class OtelBackend:
    """OpenTelemetry instruments of a `MeterProvider` that pushes them over OTLP every interval.

    Each worker is its own exporter: its resource carries a `service.instance.id` of its own, so
    the collector keeps the workers' series apart and adds them up."""

    def __init__(self, meter: Any) -> None:
        self._meter = meter

    def counter(self, name: str, doc: str, labels: Sequence[str]) -> Add:
        counter = self._meter.create_counter(name, description=doc)
        return lambda values, amount: counter.add(amount, dict(zip(labels, values)))

    def histogram(self, name: str, doc: str, labels: Sequence[str]) -> Add:
        histogram = self._meter.create_histogram(
            name, unit="s", description=doc, explicit_bucket_boundaries_advisory=list(LATENCY_BUCKETS)
        )
        return lambda values, amount: histogram.record(amount, dict(zip(labels, values)))

    def gauge(self, name: str, doc: str, labels: Sequence[str]) -> Add:
        gauge = self._meter.create_gauge(name, description=doc)
        return lambda values, amount: gauge.set(amount, dict(zip(labels, values)))


def otel_instruments(protocol: str, service_name: str) -> tuple[Instruments, Callable[[], None]]:
    """Instruments pushed over OTLP (the SDK reads OTEL_EXPORTER_OTLP_* itself) and their shutdown."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    provider = MeterProvider(metric_readers=[reader], resource=otel_resource(service_name))
    return Instruments(OtelBackend(provider.get_meter("gotrue"))), provider.shutdown


def otel_resource(service_name: str) -> Any:
    """service.name from GOTRUE_TRACING_SERVICE_NAME unless OTEL_SERVICE_NAME says otherwise;
    OTEL_RESOURCE_ATTRIBUTES apply; one service.instance.id per worker process."""
    from opentelemetry.sdk.resources import Resource

    attributes: dict[str, Any] = {"service.instance.id": str(uuid.uuid4()), "process.pid": os.getpid()}
    if not os.environ.get("OTEL_SERVICE_NAME") and "service.name=" not in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.name"] = service_name
    return Resource.create(attributes)
