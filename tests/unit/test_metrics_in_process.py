"""Metrics per method and channel, and outbound spans, in one process (docs/adr/0030).

The app runs on in-memory storage with `GOTRUE_METRICS_EXPORTER=prometheus` and is read back
through its own registry (one process: no multiprocess directory). Mail leaves through the dev
inbox or a closed SMTP port, texts through the development sender, outbound HTTP to a local server.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from pytrue.entrypoints.containers import build_container
from pytrue.entrypoints.http.app import create_app
from pytrue.entrypoints.settings import load_settings

PASSWORD = "a long enough password 1"


def _app(**extra: str) -> tuple[Any, Any]:
    env = {
        "GOTRUE_DB_DRIVER": "memory",
        "GOTRUE_JWT_SECRET": secrets.token_urlsafe(40),
        "GOTRUE_SITE_URL": "http://localhost:3000",
        "API_EXTERNAL_URL": "http://localhost:9999",
        "GOTRUE_MAILER_AUTOCONFIRM": "true",
        "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": "true",
        "GOTRUE_EXTERNAL_PHONE_ENABLED": "true",
        "GOTRUE_PASSWORD_HASH_ARGON2_MEMORY": "64",
        "GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS": "1",
        "GOTRUE_METRICS_ENABLED": "true",
        "GOTRUE_METRICS_EXPORTER": "prometheus",
        **extra,
    }
    container = build_container(load_settings(env, env_file=None))
    return container, create_app(container)


def _value(container: Any, name: str, **labels: str) -> float:
    registry = container.core.observability().instruments.backend.registry
    return registry.get_sample_value(name, labels) or 0.0


def _eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sign_ins_and_sign_ups_are_counted_per_method() -> None:
    container, app = _app()
    with TestClient(app) as client:
        assert client.post("/signup", json={"email": "a@example.com", "password": PASSWORD}).status_code == 200
        assert client.post("/signup", json={"email": "a@example.com", "password": PASSWORD}).status_code in (200, 422)
        signed_in = client.post("/token?grant_type=password", json={"email": "a@example.com", "password": PASSWORD})
        assert signed_in.status_code == 200
        assert client.post("/token?grant_type=password", json={"email": "a@example.com", "password": "wrong"}).status_code == 400
        assert client.post("/signup", json={}).status_code == 200  # anonymous
        refreshed = client.post("/token?grant_type=refresh_token", json={"refresh_token": signed_in.json()["refresh_token"]})
        assert refreshed.status_code == 200
        assert client.post("/token?grant_type=refresh_token", json={"refresh_token": "nope-not-a-token"}).status_code == 400
        assert client.post("/otp", json={"phone": "+15555550100"}).status_code == 200
        sms = container.core.dev_sms_outbox().latest("15555550100")
        assert sms is not None
        verified = client.post("/verify", json={"type": "sms", "phone": "+15555550100", "token": sms.otp})
        assert verified.status_code == 200, verified.text
    assert _value(container, "gotrue_sign_ups_total", method="email", provider="") == 1  # the second was no new user
    assert _value(container, "gotrue_sign_ups_total", method="phone", provider="") == 1  # /otp created it
    assert _value(container, "gotrue_sign_ups_total", method="anonymous", provider="") == 1
    assert _value(container, "gotrue_sign_ins_total", method="password", provider="") == 1
    assert _value(container, "gotrue_sign_ins_total", method="anonymous", provider="") == 1
    assert _value(container, "gotrue_sign_ins_total", method="otp", provider="") == 1
    assert _value(container, "gotrue_token_refreshes_total") == 1
    assert _value(container, "gotrue_sms_send_operations_total") == 1
    assert _value(container, "gotrue_sms_send_errors_total") == 0
    assert _value(container, "http_status_codes_total", code="400", http_route="/token") == 2


def test_emails_sent_and_failed_are_counted() -> None:
    container, app = _app(GOTRUE_MAILER_AUTOCONFIRM="false")
    with TestClient(app) as client:
        assert client.post("/magiclink", json={"email": "link@example.com"}).status_code == 200
        _eventually(lambda: _value(container, "global_auth_email_send_operations_total") == 1)
    assert _value(container, "global_auth_email_send_errors_total") == 0
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    container, app = _app(GOTRUE_MAILER_AUTOCONFIRM="false", GOTRUE_SMTP_HOST="127.0.0.1", GOTRUE_SMTP_PORT=str(port))
    with TestClient(app) as client:
        assert client.post("/magiclink", json={"email": "link@example.com"}).status_code == 200
        _eventually(lambda: _value(container, "global_auth_email_send_errors_total") == 1)
    assert _value(container, "global_auth_email_send_operations_total") == 1


def test_a_method_outside_the_standard_set_is_not_a_label() -> None:
    container, app = _app()
    with TestClient(app) as client:
        client.request("SPAMSPAM", "/health")
    registry = container.core.observability().instruments.backend.registry
    assert registry.get_sample_value(
        "http_server_request_duration_seconds_count",
        {"http_request_method": "_OTHER", "http_route": "noroute", "http_response_status_code": "405"},
    ) == 1
    assert "SPAMSPAM" not in repr(list(registry.collect()))


class _Echo(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802
        _Echo.seen.append(dict(self.headers))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_outbound_calls_are_client_spans_that_pass_the_trace_on(echo: str) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    from pytrue.adapters.observability.tracing import get_tracer, traced_transport

    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    tracer = get_tracer(provider)

    async def call() -> int:
        async with httpx.AsyncClient(transport=traced_transport(provider)) as client:
            with tracer.start_as_current_span("request"):
                return (await client.get(echo + "/hook")).status_code

    assert asyncio.run(call()) == 204
    (outbound,) = [s for s in exported.get_finished_spans() if s.kind == SpanKind.CLIENT]
    (parent,) = [s for s in exported.get_finished_spans() if s.name == "request"]
    assert outbound.parent is not None and outbound.parent.span_id == parent.context.span_id
    status = outbound.attributes.get("http.response.status_code", outbound.attributes.get("http.status_code"))
    assert status == 204
    traceparent = _Echo.seen[-1].get("traceparent", "")
    assert traceparent.split("-")[1:3] == [f"{outbound.context.trace_id:032x}", f"{outbound.context.span_id:016x}"]


def test_a_dead_workers_gauges_leave_the_scrape_and_its_counters_stay(tmp_path: Any) -> None:
    """A worker killed before it could mark itself dead: the next scrape retires its live gauges."""
    import subprocess
    import sys

    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    from pytrue.adapters.observability.exporter import _DeadWorkers

    worker = (
        "from pytrue.adapters.observability.metrics import Instruments, PrometheusBackend\n"
        "m = Instruments(PrometheusBackend())\n"
        "m.signed_in('password'); m.hashing(7, 2)\n"
    )
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=60)

    def scrape(reap: bool) -> str:
        registry = CollectorRegistry()
        if reap:
            registry.register(_DeadWorkers(str(tmp_path)))  # type: ignore[arg-type]
        MultiProcessCollector(registry, path=str(tmp_path))
        return generate_latest(registry).decode()

    before = scrape(reap=False)
    assert "gotrue_password_hash_queue_depth 5.0" in before and "gotrue_running 1.0" in before
    after = [line for line in scrape(reap=True).splitlines() if not line.startswith("#")]
    assert not [line for line in after if line.startswith(("gotrue_password_hash", "gotrue_running"))], after
    assert 'gotrue_sign_ins_total{method="password",provider=""} 1.0' in after
