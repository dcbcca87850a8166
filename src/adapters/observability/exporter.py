"""The Prometheus exporter of `pytrue serve`: one HTTP endpoint for the values of every worker.

`prepare()` runs in the serving process before any worker starts: it creates this run's own
directory and names it in PROMETHEUS_MULTIPROC_DIR, which puts `prometheus_client` in each
worker into multiprocess mode (values written to per-process files there). `serve()` then
answers scrapes with `MultiProcessCollector`, which adds the files up: counters and histograms
of every process that ever ran in this run, gauges of the live ones only. A worker that stops
marks itself dead; a worker that died without doing so is found at the next scrape.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from typing import Any

log = logging.getLogger("pytrue.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def prepare() -> str:
    """A fresh, empty directory for this run's values, named in the environment the workers inherit."""
    previous = os.environ.get(MULTIPROC_ENV)
    if previous:
        log.info("%s=%s is replaced by this run's own directory", MULTIPROC_ENV, previous)
    directory = tempfile.mkdtemp(prefix="pytrue-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    return directory


def remove(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def mark_dead(pid: int) -> None:
    """A worker leaving: its live gauges (pool, hasher) stop counting; counters stay in the sums."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)


class _DeadWorkers:
    """A collector that yields nothing: before each scrape it retires the gauges of processes gone."""

    def __init__(self, directory: str) -> None:
        self._directory = directory

    def collect(self) -> list[Any]:
        from prometheus_client import multiprocess

        pids = set()
        try:
            names = os.listdir(self._directory)
        except OSError:
            return []
        for name in names:
            match = _LIVE_GAUGE_FILE.fullmatch(name)
            if match:
                pids.add(int(match.group(1)))
        for pid in pids:
            if not _alive(pid):
                multiprocess.mark_process_dead(pid, self._directory)
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve(host: str, port: int, directory: str) -> Any:
    """Start answering scrapes (every path: `/`, `/metrics`) on a thread; returns the server to shut down."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    registry.register(_DeadWorkers(directory))  # type: ignore[arg-type]
    MultiProcessCollector(registry, path=directory)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    log.info("prometheus metrics on http://%s:%d/metrics", host, port)
    return server
