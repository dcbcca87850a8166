"""How one machine's resources are shared between the worker processes of `pytrue serve`.

The CLI decides the number of workers and hands it to every worker in `PYTRUE_WORKERS`;
each worker derives from it its share of the password-hashing threads and of the
database's connections (docs/adr/0009-granian-multi-process-serving.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

WORKERS_ENV = "PYTRUE_WORKERS"
DEFAULT_POOL_SIZE = 10
# Connections left for superusers-only slots are excluded by PostgreSQL itself; these few more
# stay free for migrations, `pytrue users …`, psql and monitoring while the server runs.
RESERVED_CONNECTIONS = 5
# The rate limiter's own connections per worker (it runs while a unit of work holds one).
LIMITER_POOL_SIZE = 2


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


@dataclass(frozen=True, slots=True)
class PoolShare:
    """The connections one worker may open: its main pool and the rate limiter's pool."""

    main: int
    limiter: int

    @property
    def total(self) -> int:
        return self.main + self.limiter


def pool_share(
    budget: int, max_connections: int | None = None, reserved_for_superuser: int = 0, *, limiter: int = LIMITER_POOL_SIZE
) -> PoolShare:
    """This worker's connections, from the operator's budget and the server's limit.

    `budget` is `GOTRUE_DB_MAX_POOL_SIZE`: the connections this `pytrue serve` (all its workers,
    each with a main pool and the rate limiter's) may hold open together; each worker takes an
    equal part, of which up to `limiter` go to the rate limiter. 0 means the default of
    `DEFAULT_POOL_SIZE` + `limiter` per worker. `max_connections` (read from a server reached
    directly; None behind a transaction-mode pooler, whose own limits apply) caps the part further:
    what the server accepts from ordinary roles, less `RESERVED_CONNECTIONS`, divided among the
    workers.
    """
    count = workers()
    part = budget // count if budget else DEFAULT_POOL_SIZE + limiter
    if max_connections is not None:
        part = min(part, (max_connections - reserved_for_superuser - RESERVED_CONNECTIONS) // count)
    part = max(2, part)
    limiter_part = max(1, min(limiter, part // 4))
    return PoolShare(main=part - limiter_part, limiter=limiter_part)
