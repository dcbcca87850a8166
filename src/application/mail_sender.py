"""Delivering the mail outbox after the response: one sender per worker over the shared queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from pytrue.application.mail_health import MailHealth
from pytrue.application.ports import Clock, Mailer, MailDeliveryFailed, MailQueue, QueuedMail

log = logging.getLogger("pytrue.mail")


@dataclass(slots=True)
class MailQueued:
    """Called by a unit of work after it committed mail; forwards to the sender once it runs."""

    target: Callable[[], None] | None = None

    def __call__(self) -> None:
        if self.target is not None:
            self.target()


@dataclass(slots=True, kw_only=True)
class OutboxSender:
    """Claims due messages, delivers them, deletes what was delivered and reschedules what failed.

    Woken at once when this process commits a message, and every `poll_interval` seconds for
    the messages other workers left behind (a crashed worker's claim lapses after `lease`).
    A failed attempt is retried after `retry_interval`, doubling up to `max_retry_interval`,
    until the code it carries has expired (`give_up_after`). Every failure is logged at ERROR
    with the message kind and outbox id, never the recipient, code or link.
    """

    queue: MailQueue
    mailer: Mailer
    clock: Clock
    health: MailHealth
    retry_interval: timedelta = timedelta(seconds=15)
    max_retry_interval: timedelta = timedelta(minutes=15)
    give_up_after: timedelta = timedelta(days=1)
    poll_interval: float = 2.0
    lease: timedelta = timedelta(minutes=2)
    batch: int = 8
    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False
    _running: bool = False
    _passes: int = 0
    _done: threading.Condition = field(default_factory=threading.Condition)

    def wake(self) -> None:
        """Look at the queue now (call from the sender's event loop)."""
        if self._wake is not None:
            self._wake.set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="pytrue-mail-outbox")

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the delivery in progress (up to `timeout`); what is left waits in the queue."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self.wake()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def settle(self, timeout: float = 10.0) -> bool:
        """From another thread: wait until a full pass over the queue that began after this call has ended.

        Tests and scripts use it to wait for mail that was queued before the call.
        """
        loop = self._loop
        if loop is None or self._task is None:
            return False
        with self._done:
            target = self._passes + (2 if self._running else 1)
        loop.call_soon_threadsafe(self.wake)
        with self._done:
            return self._done.wait_for(lambda: self._passes >= target, timeout)

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            self._wake.clear()
            with self._done:
                self._running = True
            try:
                await self.deliver_due()
            except Exception:  # the storage is unreachable: try again at the next poll
                log.exception("mail outbox: could not read the queue")
            finally:
                with self._done:
                    self._running = False
                    self._passes += 1
                    self._done.notify_all()
            if self._stopping:
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def deliver_due(self) -> int:
        """Deliver every message that is due now; returns how many were delivered."""
        delivered = 0
        while not self._stopping:
            claimed = await self.queue.claim(self.clock.now(), self.lease, self.batch)
            if not claimed:
                break
            results = await asyncio.gather(*(self._deliver(queued) for queued in claimed))
            delivered += sum(results)
        if self.health.failing_since is not None and (await self.queue.stats()).depth == 0:
            self.health.recovered()
        return delivered

    def retry_delay(self, attempts: int) -> timedelta:
        delay = self.retry_interval * (2 ** min(max(attempts - 1, 0), 20))
        return min(delay, self.max_retry_interval)

    async def _deliver(self, queued: QueuedMail) -> bool:
        now = self.clock.now()
        kind = queued.mail.kind
        if now - queued.created_at > self.give_up_after:
            await self.queue.delivered(queued.id)
            log.error(
                "mail outbox: gave up on %s email #%d after %d attempts: its code has expired",
                kind,
                queued.id,
                queued.attempts - 1,
            )
            return False
        try:
            await self.mailer.send(queued.mail)
        except Exception as exc:  # noqa: BLE001 - a template bug must not stop the queue either
            delay = self.retry_delay(queued.attempts)
            error = str(exc) if isinstance(exc, MailDeliveryFailed) else f"{type(exc).__name__} while sending"
            await self.queue.failed(queued.id, now + delay, error)
            log.error(
                "mail outbox: could not deliver %s email #%d (attempt %d), next attempt in %gs: %s",
                kind,
                queued.id,
                queued.attempts,
                delay.total_seconds(),
                error,
                exc_info=not isinstance(exc, MailDeliveryFailed),
            )
            if not (isinstance(exc, MailDeliveryFailed) and exc.recipient):
                self.health.failed(now, error)
            return False
        await self.queue.delivered(queued.id)
        self.health.recovered()
        return True
