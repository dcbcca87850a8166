"""Metrics and tracing of `pytrue serve` as processes (docs/adr/0030).

* the Prometheus exporter adds up what every worker counted: N requests spread over two
  workers scrape as N, labelled by route template;
* a request's server span reaches a local OTLP/HTTP receiver in the trace of its `traceparent`,
  with a child span for its unit of work; OTLP metrics reach the same receiver;
* a bad exporter or protocol stops the start naming its variable;
* off (the default), nothing of it is imported or wired.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from e2e_support import clean_environment, free_port, pytrue_command, server_environment, start_server, stop_server

GENEROUS = 30.0
PASSWORD = "a long enough password 1"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


def _wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + GENEROUS
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def postgres_dsn(tmp_path: Path) -> Iterator[str]:
    from pytrue.adapters.postgres.cluster import LocalCluster

    cluster = LocalCluster(tmp_path / "pg", persistent=False)
    cluster.start()
    try:
        yield cluster.provision()
    finally:
        cluster.stop()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and all((k, val) in ls for k, val in labels.items()))


def _per_worker(directory: Path, name: str) -> dict[int, float]:
    """What each worker process alone counted: its own counter file, read by the same collector."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    counts = {}
    for path in directory.glob("counter_*.db"):
        alone = directory.parent / f"alone-{path.stem}"
        alone.mkdir(exist_ok=True)
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        counts[int(path.stem.split("_")[1])] = sum(
            sample.value for family in registry.collect() for sample in family.samples if sample.name == name
        )
        shutil.rmtree(alone)
    return counts


def test_two_workers_are_scraped_as_one_server_labelled_by_route_template(
    tmp_path: Path, postgres_dsn: str, otlp_receiver: ThreadingHTTPServer
) -> None:
    metrics_port = free_port()
    env = {
        "GOTRUE_DB_DRIVER": "postgres",
        "DATABASE_URL": postgres_dsn,
        "GOTRUE_METRICS_ENABLED": "true",
        "GOTRUE_METRICS_EXPORTER": "prometheus",
        "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
        "OTEL_EXPORTER_PROMETHEUS_PORT": str(metrics_port),
        "TMPDIR": str(tmp_path),  # the run's multiprocess directory goes here, to be looked at
        # and traces, with their PostgreSQL units of work, to the local OTLP receiver
        "GOTRUE_TRACING_ENABLED": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_receiver.server_address[1]}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    process, server = start_server(tmp_path, env, ["--workers", "2"])
    wrong_passwords, refreshes = 5, 4
    try:
        headers = {"apikey": server.anon_key}
        refresh_tokens = []
        directories = list(tmp_path.glob("pytrue-metrics-*"))
        assert len(directories) == 1, directories
        sign_ups = 0
        # Until both workers have counted sign-ups (each request on a new connection: any worker takes it)
        while sign_ups < 8 or min(_per_worker(directories[0], "gotrue_sign_ups_total").values(), default=0) == 0:
            assert sign_ups < 80, _per_worker(directories[0], "gotrue_sign_ups_total")
            email = f"metrics-{sign_ups}@example.com"
            with httpx.Client(base_url=server.url, headers=headers) as client:
                assert client.post("/signup", json={"email": email, "password": PASSWORD}).status_code == 200
            with httpx.Client(base_url=server.url, headers=headers) as client:
                signed_in = client.post("/token?grant_type=password", json={"email": email, "password": PASSWORD})
                assert signed_in.status_code == 200, signed_in.text
                refresh_tokens.append(signed_in.json()["refresh_token"])
            sign_ups += 1
        for n in range(wrong_passwords):
            with httpx.Client(base_url=server.url, headers=headers) as client:
                wrong = client.post("/token?grant_type=password", json={"email": f"metrics-{n}@example.com", "password": "not it"})
                assert wrong.status_code == 400
        for token in refresh_tokens[:refreshes]:
            with httpx.Client(base_url=server.url, headers=headers) as client:
                assert client.post("/token?grant_type=refresh_token", json={"refresh_token": token}).status_code == 200
        user_path = "/admin/users/" + "6b1a4c2e-6a57-4e1f-8f3d-3f4b8a0c7d11"
        assert httpx.get(server.url + user_path, headers=headers).status_code in (401, 403)
        assert httpx.get(server.url + "/no/such/route").status_code == 404
        per_worker = _per_worker(directories[0], "gotrue_sign_ups_total")
        assert len(per_worker) == 2 and all(per_worker.values()), per_worker

        scrape = f"http://127.0.0.1:{metrics_port}"

        def scraped() -> str | None:
            text = httpx.get(scrape + "/metrics").text
            return text if "gotrue_db_pool_connections_max" in text else None

        text = _wait_for(scraped, "the pools' gauges")
        assert httpx.get(scrape + "/").status_code == 200
        samples = _samples(text)
        assert _value(samples, "gotrue_sign_ups_total", method="email") == sign_ups
        assert _value(samples, "gotrue_sign_ins_total", method="password") == sign_ups
        assert _value(samples, "gotrue_token_refreshes_total") == refreshes
        assert _value(samples, "http_status_codes_total", http_route="/signup", code="200") == sign_ups
        assert _value(samples, "http_status_codes_total", http_route="/token", code="200") == sign_ups + refreshes
        assert _value(samples, "http_status_codes_total", http_route="/token", code="400") == wrong_passwords
        assert _value(samples, "http_status_codes_total", http_route="noroute", code="404") == 1
        admin = [ls for (n, ls) in samples if n == "http_status_codes_total" and ("http_route", "/admin/users/{user_id}") in ls]
        assert len(admin) == 1
        histogram = _value(
            samples, "http_server_request_duration_seconds_count", http_route="/token", http_request_method="POST"
        )
        assert histogram == sign_ups + refreshes + wrong_passwords
        routes = {dict(ls).get("http_route", "") for (_, ls) in samples}
        assert not any(UUID.search(route) for route in routes), routes
        assert not any(PASSWORD in str(key) or "@example.com" in str(key) for key in samples)
        assert _value(samples, "gotrue_running") == 2  # live gauges: one per worker
        assert _value(samples, "gotrue_db_pool_connections_max", pool="main") > 0
        assert _value(samples, "gotrue_password_hash_queue_depth") == 0
        units = _wait_for(
            lambda: [s for _, s in _spans(otlp_receiver) if s.name == "db.unit_of_work"], "spans of units of work"
        )
        assert {_attributes(s)["db.system.name"] for s in units} == {"postgres"}

        def statements() -> list[Any]:  # opentelemetry-instrumentation-psycopg's spans, one per statement
            return [s for _, s in _spans(otlp_receiver) if "postgresql" in (_attributes(s).get("db.system"), _attributes(s).get("db.system.name"))]

        assert _wait_for(statements, "SQL statement spans")
        unit_ids = {s.span_id for _, s in _spans(otlp_receiver) if s.name == "db.unit_of_work"}
        assert any(s.parent_span_id in unit_ids for s in statements()), "statements are children of their unit of work"
        assert not any(PASSWORD in str(s) for s in statements())
        servers = {(r["process.pid"], s.name) for r, s in _spans(otlp_receiver) if s.name.startswith("POST ")}
        assert {name for _, name in servers} >= {"POST /signup", "POST /token"}
        assert len({pid for pid, _ in servers}) == 2, "each worker exports its own spans"
    finally:
        stop_server(process)
    assert process.returncode == 0, server.log()
    assert not list(tmp_path.glob("pytrue-metrics-*")), "the run's multiprocess directory is removed at shutdown"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2.0)


class _Receiver(BaseHTTPRequestHandler):
    """OTLP/HTTP: protobuf requests on /v1/traces and /v1/metrics, kept for the test to read."""

    received: dict[str, list[bytes]]

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.setdefault(self.path, []).append(body)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def otlp_receiver() -> Iterator[ThreadingHTTPServer]:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    receiver.received = {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.shutdown()
        receiver.server_close()


def _spans(receiver: ThreadingHTTPServer) -> list[tuple[dict[str, Any], Any]]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    found = []
    for body in list(receiver.received.get("/v1/traces", [])):  # type: ignore[attr-defined]
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource)
            for scope_spans in resource_spans.scope_spans:
                found.extend((resource, span) for span in scope_spans.spans)
    return found


def _attributes(item: Any) -> dict[str, Any]:
    values = {}
    for attribute in item.attributes:
        kind = attribute.value.WhichOneof("value")
        values[attribute.key] = getattr(attribute.value, kind)
    return values


def test_a_request_span_joins_the_incoming_trace_and_reaches_the_otlp_receiver(
    tmp_path: Path, otlp_receiver: ThreadingHTTPServer
) -> None:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    endpoint = f"http://127.0.0.1:{otlp_receiver.server_address[1]}"
    env = {
        "GOTRUE_TRACING_ENABLED": "true",
        "GOTRUE_TRACING_SERVICE_NAME": "pytrue-under-test",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "GOTRUE_METRICS_ENABLED": "true",  # the opentelemetry exporter: OTLP to the same receiver
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
    }
    process, server = start_server(tmp_path, env)
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    try:
        response = httpx.post(
            f"{server.url}/signup",
            json={"email": "traced@example.com", "password": PASSWORD},
            headers={"apikey": server.anon_key, "traceparent": f"00-{trace_id}-{parent_id}-01"},
        )
        assert response.status_code == 200, response.text
        in_trace = lambda: [(r, s) for r, s in _spans(otlp_receiver) if s.trace_id.hex() == trace_id]  # noqa: E731
        spans = _wait_for(lambda: [(r, s) for r, s in in_trace() if s.kind == Span.SPAN_KIND_SERVER], "the span")
        (resource, root), = [(r, s) for r, s in spans if s.kind == Span.SPAN_KIND_SERVER]
        assert root.parent_span_id.hex() == parent_id
        assert root.name == "POST /signup"
        attributes = _attributes(root)
        assert attributes["http.route"] == "/signup" and attributes["http.response.status_code"] == 200
        assert attributes["http.request.method"] == "POST"
        assert resource["service.name"] == "pytrue-under-test"
        children = _wait_for(
            lambda: [s for _, s in in_trace() if s.name == "db.unit_of_work" and s.parent_span_id == root.span_id],
            "the unit of work's span",
        )
        assert children
        assert not any(PASSWORD in str(s) for _, s in in_trace())

        def sign_ups() -> float:
            from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

            total = 0.0
            for body in list(otlp_receiver.received.get("/v1/metrics", [])):  # type: ignore[attr-defined]
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                for rm in request.resource_metrics:
                    for sm in rm.scope_metrics:
                        for metric in sm.metrics:
                            if metric.name == "gotrue_sign_ups":
                                total = max(total, sum(p.as_int or p.as_double for p in metric.sum.data_points))
            return total

        assert _wait_for(sign_ups, "the sign-up counter over OTLP") == 1
    finally:
        stop_server(process)
    assert process.returncode == 0, server.log()


def _start_fails(tmp_path: Path, **overrides: str) -> str:
    port = free_port()
    env = {**server_environment(port, secrets.token_urlsafe(48)), **overrides}
    result = subprocess.run(
        [*pytrue_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=clean_environment(env), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=GENEROUS,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    return output


def test_an_unknown_exporter_or_protocol_stops_the_start_naming_its_variable(tmp_path: Path) -> None:
    assert "GOTRUE_METRICS_EXPORTER" in _start_fails(tmp_path, GOTRUE_METRICS_ENABLED="true", GOTRUE_METRICS_EXPORTER="statsd")
    assert "GOTRUE_TRACING_EXPORTER" in _start_fails(tmp_path, GOTRUE_TRACING_EXPORTER="zipkin")
    output = _start_fails(tmp_path, GOTRUE_TRACING_ENABLED="true", OTEL_EXPORTER_OTLP_PROTOCOL="http/json")
    assert "OTEL_EXPORTER_OTLP_PROTOCOL" in output and "http/json" in output
    busy = free_port()
    with __import__("socket").create_server(("127.0.0.1", busy)):
        output = _start_fails(
            tmp_path, GOTRUE_METRICS_ENABLED="true", GOTRUE_METRICS_EXPORTER="prometheus",
            OTEL_EXPORTER_PROMETHEUS_HOST="127.0.0.1", OTEL_EXPORTER_PROMETHEUS_PORT=str(busy),
        )
    assert "GOTRUE_METRICS_OTEL_EXPORTER_PROMETHEUS_HOST" in output


def test_off_by_default_nothing_is_imported_or_wrapped() -> None:
    probe = """
import secrets, sys
from pytrue.application.metrics import NO_METRICS
from pytrue.entrypoints.containers import build_container
from pytrue.entrypoints.http.app import create_app
from pytrue.entrypoints.settings import load_settings
settings = load_settings({"GOTRUE_DB_DRIVER": "memory", "GOTRUE_JWT_SECRET": secrets.token_urlsafe(40)}, env_file=None, require=False)
container = build_container(settings)
app = create_app(container)
use_cases = container.use_cases
assert all(getattr(use_cases, name)().metrics is NO_METRICS for name in ("sign_up", "sign_in_with_password", "refresh_token_grant", "verify", "id_token_grant"))
assert type(app.asgi_handler).__name__ != "ObservedRequests"
assert type(container.adapters.uow()).__name__ == "InMemoryUnitOfWorkFactory"
# (Litestar itself imports opentelemetry.semconv's attribute names once the package is installed)
ours = ("prometheus_client", "opentelemetry.sdk", "opentelemetry.trace", "opentelemetry.exporter", "opentelemetry.metrics", "pytrue.adapters.observability", "pytrue.entrypoints.http.observability")
loaded = sorted(m for m in sys.modules if m.startswith(ours))
print(loaded)
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=GENEROUS, env=clean_environment({}))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
