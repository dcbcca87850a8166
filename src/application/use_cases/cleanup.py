"""Database cleanup: stale rows removed one small step at a time (`GOTRUE_DB_CLEANUP_ENABLED`, tokens.md §7)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pytrue.application.ports import Clock, StaleRowCleaner
from pytrue.domain.cleanup import CleanupRule, StaleRows


@dataclass(frozen=True, slots=True)
class CleanedRows:
    kind: StaleRows
    rows: int


@dataclass(frozen=True, slots=True)
class CleanupReport:
    steps: int
    rows: dict[StaleRows, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


@dataclass(slots=True, kw_only=True)
class CleanStaleRows:
    """Each step applies the next rule in turn, to one batch; a step that fails does not stall the others.

    A step is one short transaction that skips rows in use, so a step after every write request
    keeps the tables small without ever making a request wait.
    """

    cleaner: StaleRowCleaner
    clock: Clock
    rules: tuple[CleanupRule, ...]
    _next: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not self.rules:
            raise ValueError("the cleanup needs at least one rule")

    async def step(self) -> CleanedRows:
        rule = self.rules[self._next % len(self.rules)]
        self._next += 1
        return CleanedRows(rule.kind, await self.cleaner.clean(rule, self.clock.now()))

    async def until_clean(self, max_steps: int | None = None) -> CleanupReport:
        """Steps until a whole round of the rules affects nothing (or `max_steps` were taken)."""
        rows: Counter[StaleRows] = Counter()
        steps = idle = 0
        while idle < len(self.rules) and (max_steps is None or steps < max_steps):
            cleaned = await self.step()
            steps += 1
            rows[cleaned.kind] += cleaned.rows
            idle = 0 if cleaned.rows else idle + 1
        return CleanupReport(steps, {kind: n for kind, n in rows.items() if n})
