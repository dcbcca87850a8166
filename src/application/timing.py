"""Equal timing for answers that must not tell a known address from an unknown one."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, field

SPIN_BELOW = 0.002  # the event loop's timers round up to whole milliseconds; finish shorter waits by yielding


@dataclass(slots=True)
class TimingMask:
    """Makes the cheap outcome of a use case last as long as the expensive one, as a client sees it.

    The expensive outcome (the one that writes and queues mail) records how long it took; the
    cheap one (nothing to do) waits until it has lasted as long as one of those recorded
    durations, drawn at random. Both answers then come from the same distribution, whatever the
    load, and the cheap one costs a sleep, not work. Until something has been recorded there is
    nothing to imitate and nothing is added.
    """

    samples: deque[float] = field(default_factory=lambda: deque(maxlen=128))
    _random: random.Random = field(default_factory=random.SystemRandom)

    @staticmethod
    def start() -> float:
        return time.perf_counter()

    def record(self, started: float) -> None:
        self.samples.append(time.perf_counter() - started)

    async def pad(self, started: float) -> None:
        if not self.samples:
            return
        deadline = started + self._random.choice(self.samples)
        remaining = deadline - time.perf_counter()
        if remaining > SPIN_BELOW:
            await asyncio.sleep(remaining - SPIN_BELOW)
        while time.perf_counter() < deadline:
            await asyncio.sleep(0)
