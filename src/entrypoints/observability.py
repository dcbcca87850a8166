"""Metrics and tracing, switched on by GOTRUE_METRICS_ENABLED / GOTRUE_TRACING_ENABLED (docs/adr/0030).

Off (the default), `build` returns `OFF` without importing prometheus_client or OpenTelemetry,
the use cases hold the no-op `NO_METRICS` and no middleware is added: the request path is
unchanged. On, each worker process builds its own instruments and tracer:

* `pytrue serve` calls `prepare_serving` before the workers start: with the prometheus exporter
  it creates the run's multiprocess directory and serves the sum of every worker's values;
* `wire` (from `build_container`) puts tracing around the units of work and the outbound client;
* `install` (from `create_app`) wraps the ASGI handler (`http/observability.py`) and runs the
  sampler of the hasher's and the pools' gauges while the app runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytrue.application.metrics import NO_METRICS, Metrics
from pytrue.entrypoints import serving
from pytrue.entrypoints.settings import Settings

if TYPE_CHECKING:
    from litestar import Litestar

    from pytrue.entrypoints.containers import Application

log = logging.getLogger("pytrue.observability")

SAMPLE_SECONDS = 1.0  # how often the hasher's and the pools' gauges are read


@dataclass
class Observability:
    instruments: Any = None  # adapters.observability.metrics.Instruments
    tracer: Any = None
    tracer_provider: Any = None
    shutdowns: list[Callable[[], Any]] = field(default_factory=list)

    @property
    def on(self) -> bool:
        return self.instruments is not None or self.tracer is not None

    @property
    def metrics(self) -> Metrics:
        return self.instruments if self.instruments is not None else NO_METRICS

    def shutdown(self) -> None:
        for close in self.shutdowns:
            try:
                close()
            except Exception:  # noqa: BLE001 - an unreachable collector must not stop the shutdown
                log.warning("observability: an exporter did not shut down cleanly", exc_info=True)
        self.shutdowns.clear()


OFF = Observability()


def build(settings: Settings) -> Observability:
    """This process's instruments and tracer (`OFF` when neither is enabled)."""
    metrics, tracing = settings.metrics, settings.tracing
    if not metrics.enabled and not tracing.enabled:
        return OFF
    built = Observability()
    if metrics.enabled:
        from pytrue.adapters.observability import metrics as adapter

        if metrics.exporter == "prometheus":
            built.instruments = adapter.Instruments(adapter.PrometheusBackend())
        else:
            built.instruments, close = adapter.otel_instruments(metrics.exporter_protocol, tracing.service_name)
            built.shutdowns.append(close)
    if tracing.enabled:
        from pytrue.adapters.observability import tracing as traces

        provider, close = traces.tracer_provider(tracing.exporter_protocol, tracing.service_name)
        built.tracer = traces.get_tracer(provider)
        built.tracer_provider = provider
        built.shutdowns.append(close)
    return built


def prepare_serving(settings: Settings) -> Callable[[], None] | None:
    """In the serving process, before the workers start: the Prometheus exporter of all of them."""
    metrics = settings.metrics
    if not (metrics.enabled and metrics.exporter == "prometheus"):
        return None
    from pytrue.adapters.observability import exporter

    directory = exporter.prepare()
    try:
        server = exporter.serve(metrics.prometheus_listen_host, metrics.prometheus_listen_port, directory)
    except OSError as error:
        exporter.remove(directory)
        raise SystemExit(
            f"pytrue: cannot serve metrics on {metrics.prometheus_listen_host}:{metrics.prometheus_listen_port} "
            f"(GOTRUE_METRICS_OTEL_EXPORTER_PROMETHEUS_HOST/_PORT): {error.strerror or error}"
        ) from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        exporter.remove(directory)

    return stop


def wire(container: Application) -> None:
    """Tracing around the storage's units of work and the outbound HTTP client (when enabled)."""
    built: Observability = container.core.observability()
    if built.tracer is None:
        return
    from dependency_injector import providers

    from pytrue.adapters.observability.tracing import TracedUnitOfWorkFactory, traced_connection, traced_transport
    from pytrue.adapters.outbound_http import OutboundHttp

    settings = container.settings()
    factory = container.adapters.uow()
    if hasattr(factory, "on_connection"):  # PostgreSQL: its statements as spans too
        factory.on_connection = traced_connection(built.tracer_provider)
    container.adapters.uow.override(providers.Object(TracedUnitOfWorkFactory(factory, built.tracer, settings.db.driver)))
    timeout = settings.api.internal_http_timeout.total_seconds()
    container.core.outbound.override(
        providers.Object(OutboundHttp(timeout=timeout, transport=traced_transport(built.tracer_provider)))
    )


def install(app: Litestar, container: Application) -> None:
    """Wrap the app's ASGI handler and run the gauges' sampler (when metrics or tracing are on)."""
    built: Observability = container.core.observability()
    if not built.on:
        return
    from pytrue.entrypoints.http.observability import ObservedRequests

    app.asgi_handler = ObservedRequests(app.asgi_handler, built.instruments, built.tracer)
    sampler: dict[str, asyncio.Task[None]] = {}

    async def start() -> None:
        if built.instruments is not None:
            sampler["task"] = asyncio.get_running_loop().create_task(_sample(container, built.instruments))

    async def stop() -> None:
        task = sampler.pop("task", None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        built.shutdown()
        if built.instruments is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from pytrue.adapters.observability.exporter import mark_dead

            mark_dead(os.getpid())

    app.on_startup.append(start)
    app.on_shutdown.append(stop)


async def _sample(container: Application, instruments: Any) -> None:
    hasher = container.core.hasher()
    threads = serving.hasher_threads()
    pools: list[tuple[str, Any]] = []
    if container.settings().db.driver == "postgres":
        pools = [("main", container.adapters.pool()), ("limiter", container.adapters.limiter_pool())]
    while True:
        try:
            instruments.hashing(int(getattr(hasher, "in_flight", 0)), threads)
            for name, pool in pools:
                instruments.pool(name, pool.get_stats())
        except Exception:  # noqa: BLE001 - a gauge read must never end the worker
            log.warning("observability: could not sample the gauges", exc_info=True)
        await asyncio.sleep(SAMPLE_SECONDS)
