"""Email flows with the official Python client (`supabase_auth`) against `pytrue serve` delivering by SMTP.

Every message is received by a real SMTP server (aiosmtpd); the tests read the link or the code
out of it as a person would, and hand it back to the client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from supabase_auth import SyncGoTrueAdminAPI, SyncGoTrueClient
from supabase_auth.errors import AuthApiError
from support.smtp import extract_link, extract_otp, text_part

PASSWORD = "correct-horse-battery-staple"


def _client(mail_server: Any, flow_type: str = "implicit") -> SyncGoTrueClient:
    server = mail_server.server
    return SyncGoTrueClient(
        url=server.url,
        headers={"apikey": server.anon_key, "Authorization": f"Bearer {server.anon_key}"},
        auto_refresh_token=False,
        persist_session=False,
        flow_type=flow_type,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(mail_server: Any) -> Iterator[SyncGoTrueClient]:
    c = _client(mail_server)
    yield c
    c._http_client.close()


@pytest.fixture
def admin(mail_server: Any) -> Iterator[SyncGoTrueAdminAPI]:
    server = mail_server.server
    api = SyncGoTrueAdminAPI(
        url=server.url, headers={"apikey": server.service_key, "Authorization": f"Bearer {server.service_key}"}
    )
    yield api
    api._http_client.close()


@pytest.fixture
def email() -> str:
    return f"e2e-mail-{uuid.uuid4().hex[:12]}@example.com"


def follow(link: str) -> str:
    """Open an emailed link like a browser and return where pytrue redirects to."""
    response = httpx.get(link, follow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def fragment(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment, keep_blank_values=True).items()}


def count_to(mail_server: Any, address: str) -> int:
    return sum(1 for m in mail_server.smtp.messages if address == m["To"].addresses[0].addr_spec)


def test_sign_up_then_confirmation_link(mail_server: Any, client: SyncGoTrueClient, email: str) -> None:
    response = client.sign_up({"email": email, "password": PASSWORD})
    assert response.user is not None and response.session is None
    message = mail_server.smtp.wait_for(email)
    assert message["From"] == '"pytrue" <auth@pytrue.test>' or "auth@pytrue.test" in message["From"]
    assert text_part(message) and message.get_body(preferencelist=("html",)) is not None
    params = fragment(follow(extract_link(message)))
    assert params["type"] == "signup"
    session = client.set_session(params["access_token"], params["refresh_token"])
    assert session.user is not None and session.user.email == email
    assert session.user.email_confirmed_at is not None
    signed_in = client.sign_in_with_password({"email": email, "password": PASSWORD})
    assert signed_in.session is not None


def test_sign_in_with_otp_and_the_emailed_code(mail_server: Any, client: SyncGoTrueClient, email: str) -> None:
    client.sign_up({"email": email, "password": PASSWORD})
    code = extract_otp(mail_server.smtp.wait_for(email))
    assert client.verify_otp({"email": email, "token": code, "type": "signup"}).session is not None
    before = count_to(mail_server, email)
    client.sign_in_with_otp({"email": email, "options": {"should_create_user": False}})
    code = extract_otp(mail_server.smtp.wait_for(email, count=before + 1))
    assert count_to(mail_server, email) == before + 1
    response = client.verify_otp({"email": email, "token": code, "type": "email"})
    assert response.session is not None and response.user is not None and response.user.email == email
    with pytest.raises(AuthApiError) as reused:
        client.verify_otp({"email": email, "token": code, "type": "email"})
    assert reused.value.code == "otp_expired"


def test_reset_password_by_recovery_link(mail_server: Any, client: SyncGoTrueClient, email: str) -> None:
    client.sign_up({"email": email, "password": PASSWORD})
    client.verify_otp({"email": email, "token": extract_otp(mail_server.smtp.wait_for(email)), "type": "signup"})
    client.reset_password_for_email(email, {"redirect_to": "http://localhost:3000/reset"})
    location = follow(extract_link(mail_server.smtp.wait_for(email, count=2)))
    assert location.startswith("http://localhost:3000/reset#")
    params = fragment(location)
    assert params["type"] == "recovery"
    client.set_session(params["access_token"], params["refresh_token"])
    client.update_user({"password": "a-brand-new-password"})
    assert client.sign_in_with_password({"email": email, "password": "a-brand-new-password"}).session is not None
    with pytest.raises(AuthApiError):
        client.sign_in_with_password({"email": email, "password": PASSWORD})


def test_resend_sends_a_new_confirmation(mail_server: Any, client: SyncGoTrueClient, email: str) -> None:
    client.sign_up({"email": email, "password": PASSWORD})
    first = extract_otp(mail_server.smtp.wait_for(email))
    client.resend({"type": "signup", "email": email})
    second = extract_otp(mail_server.smtp.wait_for(email, count=2))
    assert count_to(mail_server, email) == 2
    if second != first:
        with pytest.raises(AuthApiError):
            client.verify_otp({"email": email, "token": first, "type": "signup"})
    assert client.verify_otp({"email": email, "token": second, "type": "signup"}).session is not None


def test_admin_generate_link_then_verify_by_token_hash(
    mail_server: Any, client: SyncGoTrueClient, admin: SyncGoTrueAdminAPI, email: str
) -> None:
    sent = len(mail_server.smtp.messages)
    link = admin.generate_link({"type": "signup", "email": email, "password": PASSWORD})
    assert link.properties.verification_type == "signup"
    assert len(mail_server.smtp.messages) == sent
    response = client.verify_otp({"token_hash": link.properties.hashed_token, "type": "signup"})
    assert response.session is not None and response.user is not None and response.user.email == email
    magic = admin.generate_link({"type": "magiclink", "email": email})
    assert client.verify_otp({"token_hash": magic.properties.hashed_token, "type": "magiclink"}).session is not None


def test_admin_invite_by_email(mail_server: Any, admin: SyncGoTrueAdminAPI, client: SyncGoTrueClient, email: str) -> None:
    invited = admin.invite_user_by_email(email, {"data": {"team": "blue"}})
    assert invited.user.email == email and invited.user.invited_at is not None
    params = fragment(follow(extract_link(mail_server.smtp.wait_for(email))))
    assert params["type"] == "invite"
    user = client.set_session(params["access_token"], params["refresh_token"]).user
    assert user is not None and user.user_metadata["team"] == "blue"


def test_pkce_magic_link_through_exchange_code_for_session(mail_server: Any, email: str) -> None:
    client = _client(mail_server, "pkce")
    try:
        client.sign_in_with_otp({"email": email})  # unknown address: signed up, confirmation sent (PKCE)
        location = follow(extract_link(mail_server.smtp.wait_for(email, count=1)))
        code = parse_qs(urlsplit(location).query)["code"][0]
        response = client.exchange_code_for_session({"auth_code": code})
        assert response.session is not None and response.user is not None and response.user.email == email
        client.sign_in_with_otp({"email": email})  # now confirmed: a real magic link
        location = follow(extract_link(mail_server.smtp.wait_for(email, count=2)))
        assert urlsplit(location).fragment == ""
        code = parse_qs(urlsplit(location).query)["code"][0]
        assert client.exchange_code_for_session({"auth_code": code}).session is not None
    finally:
        client._http_client.close()


def test_email_change_with_both_links(mail_server: Any, client: SyncGoTrueClient, email: str) -> None:
    client.sign_up({"email": email, "password": PASSWORD})
    client.verify_otp({"email": email, "token": extract_otp(mail_server.smtp.wait_for(email)), "type": "signup"})
    new_email = "new-" + email
    updated = client.update_user({"email": new_email})
    assert updated.user.new_email == new_email
    to_old = mail_server.smtp.wait_for(email, count=2)
    to_new = mail_server.smtp.wait_for(new_email, count=1)
    assert "message" in fragment(follow(extract_link(to_old)))
    params = fragment(follow(extract_link(to_new)))
    assert params["type"] == "email_change"
    assert client.sign_in_with_password({"email": new_email, "password": PASSWORD}).user.email == new_email
