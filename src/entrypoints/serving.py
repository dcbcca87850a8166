"""How one machine's resources are shared between the worker processes of `pytrue serve`.

The CLI decides the number of workers and hands it to every worker in `PYTRUE_WORKERS`;
each worker derives from it its share of the password-hashing threads and of the
database's connections (docs/adr/0009-granian-multi-process-serving.md).
"""

from __future__ import annotations

import os

WORKERS_ENV = "PYTRUE_WORKERS"
DEFAULT_POOL_SIZE = 10
# Connections left for superusers-only slots are excluded by PostgreSQL itself; these few more
# stay free for migrations, `pytrue users …`, psql and monitoring while the server runs.
RESERVED_CONNECTIONS = 5


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_workers(db_driver: str) -> int:
    """One worker per core; a single one for in-memory storage, which processes cannot share."""
    return 1 if db_driver == "memory" else cpu_count()


def workers() -> int:
    """The number of worker processes this process is one of (1 outside `pytrue serve`)."""
    try:
        return max(1, int(os.environ.get(WORKERS_ENV, "1")))
    except ValueError:
        return 1


def hasher_threads() -> int:
    """Hashing threads per worker, so that all workers together run one hash per core."""
    return max(1, cpu_count() // workers())


def pool_size(
    configured: int, max_connections: int | None, reserved_for_superuser: int = 0, *, extra_per_worker: int = 0
) -> int:
    """Connections one worker may open: its configured size, within its share of the server's.

    `configured` is `GOTRUE_DB_MAX_POOL_SIZE` (0: the default of 10). The share is what the
    server accepts from ordinary roles, less `RESERVED_CONNECTIONS`, divided among the workers,
    less the connections each worker keeps elsewhere (`extra_per_worker`: the rate limiter's).
    """
    wanted = configured or DEFAULT_POOL_SIZE
    if max_connections is None:
        return wanted
    budget = max_connections - reserved_for_superuser - RESERVED_CONNECTIONS
    return max(1, min(wanted, budget // workers() - extra_per_worker))
