"""Issue 16, part 2: unlimited guesses at one code (docs/adr/0016).

The contract suite runs here on the in-memory adapters (and from tests/integration on PostgreSQL,
where tests/integration/test_code_attempts_shared.py also spreads guesses over two instances).
"""

from __future__ import annotations

from typing import Any

from contract.code_attempts import *  # noqa: F403
from contract.code_attempts import GUESS_ENV, TARGET, guess


async def test_the_reported_attack_two_hundred_guesses_then_the_real_code(make_api: Any) -> None:
    """POST /otp then /verify with 000000, 000001, ...: the real code no longer works afterwards,
    whatever rate-limit header the client sends."""
    api = await make_api({**GUESS_ENV, "GOTRUE_RATE_LIMIT_HEADER": "X-Forwarded-For"})
    assert (await api.client.post("/otp", json={"email": TARGET}, headers=api.headers())).status_code == 200
    real = api.mail(TARGET).otp
    for n in range(200):
        code = f"{n:06d}"
        if code == real:
            continue
        response = await api.client.post(
            "/verify",
            json={"type": "email", "email": TARGET, "token": code},
            headers=api.headers(**{"X-Forwarded-For": f"10.0.{n // 250}.{n % 250}"}),
        )
        assert response.status_code == 403 and response.json()["error_code"] == "otp_expired"
    response = await guess(api, real, kind="email")
    assert response.status_code == 403 and response.json()["error_code"] == "otp_expired"
    assert (await api.user())["email_confirmed_at"] is None
