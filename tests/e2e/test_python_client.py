"""The official Python client (`supabase_auth`) against a running pytrue process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from e2e_support import Server
from supabase_auth import SyncGoTrueAdminAPI, SyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

PASSWORD = "correct-horse-battery-staple"


def _client(server: Server) -> SyncGoTrueClient:
    return SyncGoTrueClient(
        url=server.url,
        headers={"apikey": server.anon_key, "Authorization": f"Bearer {server.anon_key}"},
        auto_refresh_token=False,
        persist_session=False,
    )


@pytest.fixture
def client(server: Server) -> Iterator[SyncGoTrueClient]:
    c = _client(server)
    yield c
    c._http_client.close()


@pytest.fixture
def admin(server: Server) -> Iterator[SyncGoTrueAdminAPI]:
    api = SyncGoTrueAdminAPI(
        url=server.url,
        headers={"apikey": server.service_key, "Authorization": f"Bearer {server.service_key}"},
    )
    yield api
    api._http_client.close()


def test_sign_up_returns_a_session_when_autoconfirmed(client: SyncGoTrueClient, unique_email: str) -> None:
    response = client.sign_up({"email": unique_email, "password": PASSWORD, "options": {"data": {"plan": "free"}}})

    assert response.user is not None
    assert response.user.email == unique_email
    assert response.user.user_metadata.get("plan") == "free"
    assert response.user.aud == "authenticated"
    assert response.session is not None
    assert response.session.access_token and response.session.refresh_token
    assert response.session.expires_in and response.session.expires_at
    assert client.get_session() is not None


def test_password_session_lifecycle(server: Server, client: SyncGoTrueClient, unique_email: str) -> None:
    client.sign_up({"email": unique_email, "password": PASSWORD})
    client.sign_out()
    assert client.get_session() is None

    signed_in = client.sign_in_with_password({"email": unique_email, "password": PASSWORD})
    assert signed_in.session is not None
    assert signed_in.user is not None and signed_in.user.email == unique_email
    assert signed_in.user.last_sign_in_at is not None
    user_id = signed_in.user.id

    fetched = client.get_user()
    assert fetched is not None
    assert fetched.user.id == user_id
    assert fetched.user.email == unique_email

    updated = client.update_user({"data": {"nickname": "pytrue", "n": 1}})
    assert updated.user.user_metadata.get("nickname") == "pytrue"
    assert updated.user.user_metadata.get("n") == 1
    refetched = client.get_user()
    assert refetched is not None and refetched.user.user_metadata.get("nickname") == "pytrue"

    old_refresh_token = signed_in.session.refresh_token
    refreshed = client.refresh_session()
    assert refreshed.session is not None
    assert refreshed.session.refresh_token and refreshed.session.refresh_token != old_refresh_token
    assert refreshed.user is not None and refreshed.user.id == user_id
    after_refresh = client.get_user(refreshed.session.access_token)
    assert after_refresh is not None and after_refresh.user.id == user_id

    client.sign_out()
    assert client.get_session() is None
    # A global sign-out revokes the session: the refresh token no longer works.
    with pytest.raises(AuthApiError):
        _client(server).refresh_session(refreshed.session.refresh_token)


def test_refresh_token_reuse_within_the_reuse_interval(server: Server, unique_email: str) -> None:
    """Two clients presenting the same refresh token right after one another both succeed."""
    session = _client(server).sign_up({"email": unique_email, "password": PASSWORD}).session
    assert session is not None
    first = _client(server).refresh_session(session.refresh_token)
    second = _client(server).refresh_session(session.refresh_token)
    assert first.session is not None and second.session is not None
    assert first.user is not None and second.user is not None
    assert first.user.id == second.user.id


def test_wrong_password_is_invalid_credentials(client: SyncGoTrueClient, unique_email: str) -> None:
    client.sign_up({"email": unique_email, "password": PASSWORD})

    with pytest.raises(AuthApiError) as wrong_password:
        client.sign_in_with_password({"email": unique_email, "password": "not-the-password"})
    assert wrong_password.value.code == "invalid_credentials"
    assert wrong_password.value.status == 400

    with pytest.raises(AuthApiError) as unknown_user:
        client.sign_in_with_password({"email": f"nobody-{uuid.uuid4().hex}@example.com", "password": PASSWORD})
    assert unknown_user.value.code == "invalid_credentials"


def test_weak_password_on_sign_up(client: SyncGoTrueClient, unique_email: str) -> None:
    with pytest.raises(AuthWeakPasswordError) as excinfo:
        client.sign_up({"email": unique_email, "password": "abc"})
    assert excinfo.value.code == "weak_password"
    assert excinfo.value.status == 422
    assert excinfo.value.reasons == ["length"]


def test_admin_user_management(
    server: Server, admin: SyncGoTrueAdminAPI, client: SyncGoTrueClient, unique_email: str
) -> None:
    created = admin.create_user(
        {
            "email": unique_email,
            "password": PASSWORD,
            "email_confirm": True,
            "user_metadata": {"source": "admin"},
            "app_metadata": {"tier": "gold"},
        }
    )
    user = created.user
    assert user.email == unique_email
    assert user.email_confirmed_at is not None
    assert user.user_metadata.get("source") == "admin"
    assert user.app_metadata.get("tier") == "gold"
    assert user.app_metadata.get("provider") == "email"

    fetched = admin.get_user_by_id(user.id)
    assert fetched.user.id == user.id

    # Create a few more so pagination has something to page through.
    extra_ids = [
        admin.create_user({"email": f"e2e-extra-{uuid.uuid4().hex[:10]}@example.com", "password": PASSWORD}).user.id
        for _ in range(2)
    ]
    page_one = admin.list_users(page=1, per_page=2)
    page_two = admin.list_users(page=2, per_page=2)
    assert len(page_one) == 2
    assert 1 <= len(page_two) <= 2
    assert not {u.id for u in page_one} & {u.id for u in page_two}
    everyone = {u.id for u in admin.list_users(page=1, per_page=1000)}
    assert {user.id, *extra_ids} <= everyone

    # The user can sign in until banned.
    assert client.sign_in_with_password({"email": unique_email, "password": PASSWORD}).session is not None
    client.sign_out()
    banned = admin.update_user_by_id(user.id, {"ban_duration": "24h", "user_metadata": {"source": "banned"}})
    assert banned.user.user_metadata.get("source") == "banned"
    assert banned.user.banned_until
    with pytest.raises(AuthApiError) as excinfo:
        client.sign_in_with_password({"email": unique_email, "password": PASSWORD})
    assert excinfo.value.code == "user_banned"

    # Lifting the ban lets the user back in.
    unbanned = admin.update_user_by_id(user.id, {"ban_duration": "none"})
    assert not unbanned.user.banned_until
    assert client.sign_in_with_password({"email": unique_email, "password": PASSWORD}).session is not None
    client.sign_out()

    admin.delete_user(user.id)
    for extra in extra_ids:
        admin.delete_user(extra)
    with pytest.raises(AuthApiError) as missing:
        admin.get_user_by_id(user.id)
    assert missing.value.status == 404
    assert missing.value.code == "user_not_found"
    with pytest.raises(AuthApiError) as gone:
        client.sign_in_with_password({"email": unique_email, "password": PASSWORD})
    assert gone.value.code == "invalid_credentials"
    assert user.id not in {u.id for u in admin.list_users(page=1, per_page=1000)}


def test_password_change_claims_and_revoked_session(
    server: Server, admin: SyncGoTrueAdminAPI, unique_email: str
) -> None:
    device1, device2, device3 = _client(server), _client(server), _client(server)
    device1.sign_up({"email": unique_email, "password": PASSWORD})
    device2.sign_in_with_password({"email": unique_email, "password": PASSWORD})

    claims = device1.get_claims()
    assert claims is not None
    assert claims["claims"]["email"] == unique_email
    assert claims["claims"]["aud"] == "authenticated"
    for claim in ("exp", "aal", "amr", "session_id", "sub", "role"):
        assert claim in claims["claims"]

    new_password = PASSWORD + "-2"
    device1.update_user({"password": new_password})
    with pytest.raises(AuthApiError) as old:
        _client(server).sign_in_with_password({"email": unique_email, "password": PASSWORD})
    assert old.value.code == "invalid_credentials"
    assert _client(server).sign_in_with_password({"email": unique_email, "password": new_password}).session

    # A global sign-out revokes every session of the user, including device 2's.
    device1.sign_out({"scope": "global"})
    # (supabase_auth, unlike auth-js, surfaces session_not_found as a plain AuthApiError.)
    with pytest.raises(AuthApiError) as revoked:
        device2.get_user()
    assert revoked.value.status == 403
    assert revoked.value.code == "session_not_found"

    # Signing out with a session the server already revoked is not an error for the client.
    third = device3.sign_in_with_password({"email": unique_email, "password": new_password})
    assert third.session is not None
    admin.sign_out(third.session.access_token, "global")
    device3.sign_out()
    assert device3.get_session() is None


def test_admin_endpoints_reject_the_anon_key(server: Server) -> None:
    anon_admin = SyncGoTrueAdminAPI(
        url=server.url, headers={"apikey": server.anon_key, "Authorization": f"Bearer {server.anon_key}"}
    )
    with pytest.raises(AuthApiError) as excinfo:
        anon_admin.list_users()
    assert excinfo.value.status == 403
    assert excinfo.value.code == "not_admin"
