"""Timing does not tell a known address from an unknown one (issue 16, item 5; docs/adr/0017).

The one place where a test measures time, because timing is the behaviour under test. For
`/recover`, `/resend`, `/otp` and `/magiclink` the real HTTP app, delivering to a real SMTP
server that takes 50 ms per message, answers interleaved requests for a known and an unknown
address; a two-sided Mann–Whitney U test must not tell the two samples apart. The same test run
with GoTrue's behaviour (mail sent inside the request, no timing mask) must tell them apart, so
the assertion can fail. The verdict is statistical, never a millisecond threshold.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from support.api import MemoryApi
from support.app import make_settings
from support.smtp import SmtpServer

from pytrue.application.timing import TimingMask
from pytrue.entrypoints.containers import build_container
from pytrue.entrypoints.http.app import create_app

SMTP_DELAY = 0.05
SAMPLES = 120  # per class and endpoint, with the outbox
CONTROL_SAMPLES = 40  # per class and endpoint, GoTrue's way (each known request waits for SMTP)
WARM_UP = 10
ALPHA_SAME = 1e-3  # "indistinguishable": no evidence of a difference at this level
ALPHA_DIFFERENT = 1e-4  # "distinguishable": the control must be far below it
PASSWORD = "s3cret-pass-123"


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann–Whitney U test (normal approximation with tie correction)."""
    n1, n2 = len(a), len(b)
    pooled = sorted([(value, 0) for value in a] + [(value, 1) for value in b])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        size = j - i + 1
        ties += size**3 - size
        i = j + 1
    rank_a = sum(rank for rank, (_, group) in zip(ranks, pooled) if group == 0)
    u = rank_a - n1 * (n1 + 1) / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    z = (u - n1 * n2 / 2) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def test_the_statistic_tells_shifted_samples_apart_and_not_equal_ones() -> None:
    rng = random.Random(7)
    same = [rng.gauss(0, 1) for _ in range(200)]
    assert mann_whitney_p(same[:100], same[100:]) > ALPHA_SAME
    assert mann_whitney_p([rng.gauss(0, 1) for _ in range(100)], [rng.gauss(1, 1) for _ in range(100)]) < 1e-6
    assert mann_whitney_p([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == pytest.approx(1.0)


class NoMask(TimingMask):
    """GoTrue's timing: the cheap answer is sent as soon as it is ready."""

    def record(self, started: float) -> None:
        return None

    async def pad(self, started: float) -> None:
        return None


@dataclass
class Endpoint:
    path: str
    known: Callable[[], dict[str, Any]]
    unknown: Callable[[], dict[str, Any]]


def fresh() -> str:
    return f"t-{uuid.uuid4().hex[:16]}@example.com"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(delay=SMTP_DELAY) as server:
        yield server


async def measure_app(
    smtp: SmtpServer, *, gotrue_way: bool, mask: bool | None = None
) -> dict[str, tuple[list[float], list[float]]]:
    env = {
        "GOTRUE_MAILER_AUTOCONFIRM": "false",
        "GOTRUE_SMTP_HOST": "127.0.0.1",
        "GOTRUE_SMTP_PORT": str(smtp.port),
        "GOTRUE_SMTP_ADMIN_EMAIL": "auth@pytrue.test",
        "GOTRUE_SMTP_MAX_FREQUENCY": "1us",  # known users are asked for mail every ~ms
        "GOTRUE_RATE_LIMIT_EMAIL_SENT": "1000000",
        "GOTRUE_LOG_LEVEL": "warn",
        # a sign-up hashes a random password: give argon2 a cost that shows, as in production
        "GOTRUE_PASSWORD_HASH_ARGON2_MEMORY": "4096",
    }
    if gotrue_way:
        env["PYTRUE_MAILER_DELIVERY"] = "inline"
    container = build_container(make_settings(env))
    if not ((not gotrue_way) if mask is None else mask):
        use_cases = container.use_cases
        for use_case in (use_cases.recover_password(), use_cases.resend(), use_cases.send_magic_link()):
            use_case.timing = NoMask()
    async with AsyncTestClient(app=create_app(container)) as client:
        api = MemoryApi(client, container)
        confirmed, pending = "known@example.com", "pending@example.com"
        for email in (confirmed, pending):
            assert (await api.signup(email, PASSWORD)).status_code == 200
        api.settle_mail()
        store = container.adapters.store()
        for user in store.users.values():
            if user.email == confirmed:
                user.email_confirmed_at = user.created_at
        endpoints = [
            Endpoint("/recover", lambda: {"email": confirmed}, lambda: {"email": fresh()}),
            Endpoint(
                "/resend",
                lambda: {"type": "signup", "email": pending},
                lambda: {"type": "signup", "email": fresh()},
            ),
            Endpoint("/otp", lambda: {"email": confirmed}, lambda: {"email": fresh()}),
            Endpoint("/magiclink", lambda: {"email": confirmed}, lambda: {"email": fresh()}),
        ]
        count = CONTROL_SAMPLES if gotrue_way else SAMPLES
        results = {}
        for endpoint in endpoints:
            results[endpoint.path] = await sample(api, endpoint, count)
        return results


async def sample(api: MemoryApi, endpoint: Endpoint, count: int) -> tuple[list[float], list[float]]:
    """`count` timings per class after a warm-up, known and unknown interleaved in random order."""
    rng = random.Random(endpoint.path)
    known: list[float] = []
    unknown: list[float] = []
    answers = set()
    for index in range(WARM_UP + count):
        for is_known in rng.sample([True, False], 2):
            body = endpoint.known() if is_known else endpoint.unknown()
            started = time.perf_counter()
            response = await api.client.post(endpoint.path, json=body, headers=api.headers())
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (endpoint.path, is_known, response.text)
            answers.add(response.text)
            if index >= WARM_UP:
                (known if is_known else unknown).append(elapsed)
    assert len(answers) == 1, (endpoint.path, answers)  # the bodies are identical too
    return known, unknown


def describe(path: str, known: list[float], unknown: list[float]) -> str:
    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2] * 1000

    return f"{path}: known {median(known):.2f} ms, unknown {median(unknown):.2f} ms, p={mann_whitney_p(known, unknown):.2g}"


async def test_known_and_unknown_addresses_take_the_same_time(smtp: SmtpServer) -> None:
    results = await measure_app(smtp, gotrue_way=False)
    report = "\n".join(describe(path, *samples) for path, samples in results.items())
    print(report)
    for path, (known, unknown) in results.items():
        assert mann_whitney_p(known, unknown) > ALPHA_SAME, report


async def test_the_same_measurement_tells_them_apart_the_gotrue_way(smtp: SmtpServer) -> None:
    """Mail sent inside the request and no mask: the difference the issue measured is found
    (for /otp and /magiclink it is the sign-up's password hash, a few ms beside the 50 ms of SMTP)."""
    results = await measure_app(smtp, gotrue_way=True)
    report = "\n".join(describe(path, *samples) for path, samples in results.items())
    print(report)
    for path, (known, unknown) in results.items():
        alpha = ALPHA_DIFFERENT if path in ("/recover", "/resend") else ALPHA_SAME
        assert mann_whitney_p(known, unknown) < alpha, report


async def test_the_outbox_alone_leaves_a_difference_the_mask_removes(smtp: SmtpServer) -> None:
    """Without the timing mask, the database work a known address costs (a few hundred µs here)
    is found by the same test: it is sensitive well below the 50 ms of the SMTP exchange."""
    results = await measure_app(smtp, gotrue_way=False, mask=False)
    report = "\n".join(describe(path, *samples) for path, samples in results.items())
    print(report)
    for path, (known, unknown) in results.items():
        assert mann_whitney_p(known, unknown) < ALPHA_DIFFERENT, report
