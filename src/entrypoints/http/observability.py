"""The request's metrics and server span, around Litestar's whole handler (404s included).

Added only when metrics or tracing are enabled (`entrypoints/observability.py`). Routes are
labelled by their template (`/admin/users/{user_id}`), never the raw path; a request no route
matched is `noroute`, as in GoTrue. Methods outside the standard set are `_OTHER`. Nothing
from the query string, the headers or the body is recorded.
"""

from __future__ import annotations

import time
from typing import Any

NO_ROUTE = "noroute"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"})
_PROPAGATED = frozenset({b"traceparent", b"tracestate", b"baggage"})


class ObservedRequests:
    def __init__(self, app: Any, instruments: Any, tracer: Any) -> None:
        self.app = app
        self.instruments = instruments
        self.tracer = tracer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope.get("method", "GET")
        method = method if method in METHODS else "_OTHER"
        status = [500]

        async def observed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if self.tracer is None:
                await self.app(scope, receive, observed_send)
            else:
                await self._traced(scope, receive, observed_send, method, status)
        finally:
            if self.instruments is not None:
                route = scope.get("path_template") or NO_ROUTE
                self.instruments.request(method, route, status[0], time.perf_counter() - started)

    async def _traced(self, scope: Any, receive: Any, send: Any, method: str, status: list[int]) -> None:
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind, Status, StatusCode

        carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"] if name in _PROPAGATED}
        parent = propagate.extract(carrier) if carrier else None
        with self.tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                await self.app(scope, receive, send)
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__name__)
                raise
            finally:
                route = scope.get("path_template") or NO_ROUTE
                span.update_name(f"{method} {route}")
                span.set_attributes(
                    {
                        "http.request.method": method,
                        "http.route": route,
                        "http.response.status_code": status[0],
                        "url.scheme": scope.get("scheme", "http"),
                        "network.protocol.version": scope.get("http_version", "1.1"),
                    }
                )
                if status[0] >= 500:
                    span.set_status(Status(StatusCode.ERROR))
