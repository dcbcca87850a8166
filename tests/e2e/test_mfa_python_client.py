"""MFA with the official Python client (`supabase_auth`) against `pytrue serve` on both storages:
TOTP (codes from the returned secret with pyotp) and phone factors (the code read from the Twilio
stand-in), assurance levels, refresh, challenge_and_verify, unenroll and `admin.mfa`."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from supabase_auth import SyncGoTrueClient
from supabase_auth.errors import AuthApiError

PASSWORD = "correct-horse-battery-staple"


def make_client(server: Any, key: str | None = None) -> SyncGoTrueClient:
    key = key or server.anon_key
    return SyncGoTrueClient(
        url=server.url, headers={"apikey": key, "Authorization": f"Bearer {key}"}, auto_refresh_token=False, persist_session=True
    )


@pytest.fixture
def client(server: Any) -> Iterator[SyncGoTrueClient]:
    c = make_client(server)
    yield c
    c._http_client.close()


def claims(jwt: str) -> dict[str, Any]:
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def signed_up(client: SyncGoTrueClient) -> str:
    email = f"mfa-{uuid.uuid4().hex[:12]}@example.com"
    answer = client.sign_up({"email": email, "password": PASSWORD})
    assert answer.session is not None
    return email


def test_totp_enrol_verify_refresh_and_unenrol(server: Any, client: SyncGoTrueClient) -> None:
    signed_up(client)
    enrolled = client.mfa.enroll({"factor_type": "totp", "friendly_name": "phone app"})
    assert enrolled.type == "totp" and enrolled.friendly_name == "phone app"
    secret = enrolled.totp.secret  # type: ignore[union-attr]
    # GoTrue's issuer is SITE_URL's host with its port, which pyotp's label parser refuses: read the query
    assert parse_qs(urlsplit(enrolled.totp.uri).query)["secret"] == [secret]  # type: ignore[union-attr]
    assert client.mfa.get_authenticator_assurance_level().current_level == "aal1"

    challenge = client.mfa.challenge({"factor_id": enrolled.id})
    with pytest.raises(AuthApiError) as wrong:
        client.mfa.verify({"factor_id": enrolled.id, "challenge_id": challenge.id, "code": "12345x"})
    assert wrong.value.code == "mfa_verification_failed" and wrong.value.status == 422
    verified = client.mfa.verify({"factor_id": enrolled.id, "challenge_id": challenge.id, "code": pyotp.TOTP(secret).now()})
    assert claims(verified.access_token)["aal"] == "aal2"
    level = client.mfa.get_authenticator_assurance_level()
    assert (level.current_level, level.next_level) == ("aal2", "aal2")
    assert level.current_authentication_methods[0].method == "totp"
    assert claims(client.refresh_session().session.access_token)["aal"] == "aal2"  # type: ignore[union-attr]
    assert [f.id for f in client.mfa.list_factors().totp] == [enrolled.id]

    client.mfa.unenroll({"factor_id": enrolled.id})
    assert claims(client.refresh_session().session.access_token)["aal"] == "aal1"  # type: ignore[union-attr]
    assert client.mfa.list_factors().all == []


def test_challenge_and_verify_and_the_admin_factor_api(server: Any, client: SyncGoTrueClient) -> None:
    signed_up(client)
    user_id = client.get_user().user.id  # type: ignore[union-attr]
    enrolled = client.mfa.enroll({"factor_type": "totp", "friendly_name": "laptop"})
    client.mfa.challenge_and_verify({"factor_id": enrolled.id, "code": pyotp.TOTP(enrolled.totp.secret).now()})  # type: ignore[union-attr]
    assert client.mfa.get_authenticator_assurance_level().current_level == "aal2"

    admin = make_client(server, server.service_key)
    try:
        listed = admin.admin.mfa.list_factors({"user_id": user_id})
        assert [(f.id, f.status) for f in listed] == [(enrolled.id, "verified")]  # supabase_auth answers the list itself
        admin.admin.mfa.delete_factor({"user_id": user_id, "id": enrolled.id})
        assert admin.admin.mfa.list_factors({"user_id": user_id}) == []
    finally:
        admin._http_client.close()
    assert claims(client.refresh_session().session.access_token)["aal"] == "aal1"  # type: ignore[union-attr]


def test_a_phone_factor_with_the_texted_code(sms_server: Any) -> None:
    client = make_client(sms_server.server)
    try:
        signed_up(client)
        phone = "1555" + str(uuid.uuid4().int)[:7]
        enrolled = client.mfa.enroll({"factor_type": "phone", "phone": "+" + phone, "friendly_name": "mobile"})
        assert enrolled.type == "phone"
        challenge = client.mfa.challenge({"factor_id": enrolled.id})
        texts = sms_server.texts_to(phone)
        assert len(texts) == 1
        code = re.fullmatch(r"Your code is ([0-9]{6})", texts[0]).group(1)  # type: ignore[union-attr]
        verified = client.mfa.verify({"factor_id": enrolled.id, "challenge_id": challenge.id, "code": code})
        jwt = claims(verified.access_token)
        assert jwt["aal"] == "aal2" and jwt["amr"][0]["method"] == "mfa/phone"
        assert [f.id for f in client.mfa.list_factors().phone] == [enrolled.id]
    finally:
        client._http_client.close()
