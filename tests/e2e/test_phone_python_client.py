"""Phone flows with the official Python client (`supabase_auth`) against `pytrue serve` texting through Twilio.

pytrue speaks Twilio's real Messages API to a local stand-in (tests/support/sms_providers.py),
which checks each request as Twilio would; the tests read the code out of the texts it received,
as the person holding the phone would, and hand it back to the client.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from supabase_auth import SyncGoTrueClient
from supabase_auth.errors import AuthApiError

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def client(sms_server: Any) -> Iterator[SyncGoTrueClient]:
    server = sms_server.server
    c = SyncGoTrueClient(
        url=server.url,
        headers={"apikey": server.anon_key, "Authorization": f"Bearer {server.anon_key}"},
        auto_refresh_token=False,
        persist_session=False,
    )
    yield c
    c._http_client.close()


def code_for(sms_server: Any, phone: str, count: int = 1) -> str:
    """The code in text number `count` sent to `phone` (waits briefly for it)."""
    for _ in range(50):
        texts = sms_server.texts_to(phone)
        if len(texts) >= count:
            found = re.search(r"\b(\d{6})\b", texts[count - 1])
            assert found, texts[count - 1]
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no text #{count} to {phone}: {sms_server.texts_to(phone)}")


def test_phone_sign_up_then_verify_the_texted_code(sms_server: Any, client: SyncGoTrueClient, unique_phone: str) -> None:
    signed_up = client.sign_up({"phone": "+" + unique_phone, "password": PASSWORD})
    assert signed_up.session is None
    assert signed_up.user is not None and signed_up.user.phone == unique_phone
    assert signed_up.user.phone_confirmed_at is None
    code = code_for(sms_server, unique_phone)
    assert sms_server.texts_to(unique_phone) == [f"Your code is {code}"]
    verified = client.verify_otp({"phone": "+" + unique_phone, "token": code, "type": "sms"})
    assert verified.session is not None and verified.user is not None
    assert verified.user.phone_confirmed_at is not None
    with pytest.raises(AuthApiError) as reused:
        client.verify_otp({"phone": "+" + unique_phone, "token": code, "type": "sms"})
    assert reused.value.code == "otp_expired"
    signed_in = client.sign_in_with_password({"phone": "+" + unique_phone, "password": PASSWORD})
    assert signed_in.session is not None and signed_in.user is not None and signed_in.user.phone == unique_phone


def test_sign_in_with_otp_by_phone(sms_server: Any, client: SyncGoTrueClient, unique_phone: str) -> None:
    client.sign_in_with_otp({"phone": "+" + unique_phone})
    code = code_for(sms_server, unique_phone)
    with pytest.raises(AuthApiError) as wrong:
        client.verify_otp({"phone": "+" + unique_phone, "token": "000000" if code != "000000" else "111111", "type": "sms"})
    assert wrong.value.code == "otp_expired"
    session = client.verify_otp({"phone": "+" + unique_phone, "token": code, "type": "sms"}).session
    assert session is not None and session.user.phone == unique_phone
    with pytest.raises(AuthApiError) as unknown:
        client.sign_in_with_otp({"phone": "+15559999999" if unique_phone != "15559999999" else "+15559999998", "options": {"should_create_user": False}})
    assert unknown.value.code == "otp_disabled"


def test_update_user_phone_then_verify_phone_change(sms_server: Any, client: SyncGoTrueClient, unique_phone: str) -> None:
    client.sign_up({"phone": "+" + unique_phone, "password": PASSWORD})
    client.verify_otp({"phone": "+" + unique_phone, "token": code_for(sms_server, unique_phone), "type": "sms"})
    new_phone = unique_phone[:-1] + str((int(unique_phone[-1]) + 1) % 10)
    updated = client.update_user({"phone": "+" + new_phone})
    assert updated.user.phone == unique_phone  # unchanged until the new number is confirmed
    code = code_for(sms_server, new_phone)
    changed = client.verify_otp({"phone": "+" + new_phone, "token": code, "type": "phone_change"})
    assert changed.user is not None and changed.user.phone == new_phone
    assert client.get_user().user.phone == new_phone  # type: ignore[union-attr]


def test_resend_texts_a_new_code_that_works(sms_server: Any, client: SyncGoTrueClient, unique_phone: str) -> None:
    client.sign_up({"phone": "+" + unique_phone, "password": PASSWORD})
    first = code_for(sms_server, unique_phone)
    client.resend({"type": "sms", "phone": "+" + unique_phone})
    second = code_for(sms_server, unique_phone, count=2)
    if first != second:
        with pytest.raises(AuthApiError):
            client.verify_otp({"phone": "+" + unique_phone, "token": first, "type": "sms"})
    assert client.verify_otp({"phone": "+" + unique_phone, "token": second, "type": "sms"}).session is not None


def test_bad_numbers_get_gotrue_errors_and_send_nothing(sms_server: Any, client: SyncGoTrueClient) -> None:
    before = len(sms_server.twilio.server.requests)
    for bad in ("+1555abc4567", "+" + "1" * 100, "+0123456"):
        with pytest.raises(AuthApiError) as caught:
            client.sign_up({"phone": bad, "password": PASSWORD})
        assert caught.value.status in (400, 422)
        assert caught.value.code == "validation_failed", (bad, caught.value.code)
    assert len(sms_server.twilio.server.requests) == before
