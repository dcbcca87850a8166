"""The mail outbox's rules on the in-memory adapters: transactional queueing, claims, retries, timing mask."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from support.app import make_settings

from pytrue.adapters.memory.outbox import InMemoryMailQueue
from pytrue.adapters.memory.uow import InMemoryUnitOfWorkFactory
from pytrue.adapters.system import FixedClock
from pytrue.application.mail_health import MailHealth
from pytrue.application.mail_sender import OutboxSender
from pytrue.application.ports import Mail, MailDeliveryFailed
from pytrue.application.timing import TimingMask
from pytrue.entrypoints.settings import SettingsError

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
MAIL = Mail(kind="recovery", to="a@example.com", email="a@example.com", data={"lang": "fr"}, otp="123456")


def test_the_payload_round_trips_without_live_objects() -> None:
    assert Mail.from_payload(MAIL.payload()) == MAIL


async def test_mail_is_queued_only_when_the_unit_of_work_commits() -> None:
    woken: list[int] = []
    factory = InMemoryUnitOfWorkFactory(on_mail_queued=lambda: woken.append(1))
    async with factory() as uow:
        await uow.outbox.add(MAIL, NOW)
    assert factory.store.outbox == {} and woken == []
    async with factory() as uow:
        await uow.outbox.add(MAIL, NOW)
        await uow.commit()
    assert len(factory.store.outbox) == 1 and woken == [1]


async def test_a_claim_is_leased_and_a_failure_rescheduled() -> None:
    factory = InMemoryUnitOfWorkFactory()
    async with factory() as uow:
        await uow.outbox.add(MAIL, NOW)
        await uow.commit()
    queue = InMemoryMailQueue(factory.store)
    (claimed,) = await queue.claim(NOW, timedelta(minutes=2), 8)
    assert (claimed.mail, claimed.attempts) == (MAIL, 1)
    assert await queue.claim(NOW + timedelta(minutes=1), timedelta(minutes=2), 8) == []
    assert len(await queue.claim(NOW + timedelta(minutes=3), timedelta(minutes=2), 8)) == 1  # a lapsed claim
    await queue.failed(claimed.id, NOW + timedelta(minutes=10), "SMTP delivery failed at connect: OSError")
    stats = await queue.stats()
    assert (stats.depth, stats.failing, stats.oldest_created_at) == (1, 1, NOW)
    await queue.delivered(claimed.id)
    assert (await queue.stats()).depth == 0


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.sent: list[Mail] = []

    async def send(self, mail: Mail) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(mail)


async def _sender(mailer: Flaky, clock: FixedClock) -> tuple[OutboxSender, InMemoryMailQueue]:
    factory = InMemoryUnitOfWorkFactory()
    async with factory() as uow:
        await uow.outbox.add(MAIL, clock.now())
        await uow.commit()
    queue = InMemoryMailQueue(factory.store)
    health = MailHealth()
    return OutboxSender(queue=queue, mailer=mailer, clock=clock, health=health), queue


async def test_the_sender_retries_with_backoff_and_an_outage_ends_with_a_delivery() -> None:
    clock = FixedClock(NOW)
    mailer = Flaky([MailDeliveryFailed("connect"), MailDeliveryFailed("connect")])
    sender, queue = await _sender(mailer, clock)
    assert await sender.deliver_due() == 0
    assert sender.health.failing_since == NOW and sender.health.outage(NOW + timedelta(minutes=10), timedelta(minutes=10))
    assert await sender.deliver_due() == 0  # not due before its retry
    clock.advance(15)
    assert await sender.deliver_due() == 0
    clock.advance(29)
    assert await sender.deliver_due() == 0  # the second retry waits twice as long
    clock.advance(1)
    assert await sender.deliver_due() == 1
    assert mailer.sent == [MAIL] and sender.health.failing_since is None and (await queue.stats()).depth == 0
    assert sender.retry_delay(30) == timedelta(minutes=15)


async def test_a_refused_recipient_is_no_outage_and_an_expired_code_is_given_up() -> None:
    clock = FixedClock(NOW)
    sender, queue = await _sender(Flaky([MailDeliveryFailed("refused", recipient=True)]), clock)
    await sender.deliver_due()
    assert sender.health.failing_since is None and (await queue.stats()).failing == 1
    clock.advance(days=2)
    await sender.deliver_due()
    assert (await queue.stats()).depth == 0


async def test_the_timing_mask_makes_the_cheap_outcome_last_as_long_as_a_recorded_one() -> None:
    mask = TimingMask()
    started = mask.start()
    await mask.pad(started)
    assert time.perf_counter() - started < 0.005  # nothing recorded yet: nothing to imitate
    mask.samples.append(0.03)
    started = mask.start()
    await mask.pad(started)
    assert 0.03 <= time.perf_counter() - started < 0.06


def test_outbox_settings() -> None:
    settings = make_settings(
        {
            "PYTRUE_MAILER_DELIVERY": "inline",
            "PYTRUE_MAILER_OUTBOX_RETRY_INTERVAL": "1m",
            "PYTRUE_MAILER_OUTBOX_FAIL_FAST_AFTER": "0",
        }
    )
    assert settings.mailer.delivery == "inline"
    assert settings.mailer.outbox_retry_interval == timedelta(minutes=1)
    assert settings.mailer.outbox_fail_fast_after is None
    defaults = make_settings()
    assert (defaults.mailer.delivery, defaults.mailer.outbox_fail_fast_after) == ("outbox", timedelta(minutes=10))
    with pytest.raises(SettingsError, match="PYTRUE_MAILER_DELIVERY"):
        make_settings({"PYTRUE_MAILER_DELIVERY": "later"})
