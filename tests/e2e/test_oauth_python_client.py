"""External sign-in with the official Python client (`supabase_auth`) against `pytrue serve`.

The browser's part is played by an HTTP client following redirects by hand: the client's
`sign_in_with_oauth` URL → pytrue's `/authorize` → the provider stand-in's authorization endpoint
(tests/support/oauth_providers.py, real sockets) → pytrue's `/callback` → the app's redirect URL,
whose fragment (implicit) or `?code=` (PKCE) the client then turns into a session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from supabase_auth import SyncGoTrueClient

APP = "http://localhost:3000/welcome"


def make_client(oauth_server: Any, flow_type: str = "implicit") -> SyncGoTrueClient:
    server = oauth_server.server
    return SyncGoTrueClient(
        url=server.url,
        headers={"apikey": server.anon_key, "Authorization": f"Bearer {server.anon_key}"},
        auto_refresh_token=False,
        persist_session=True,  # PKCE keeps the verifier in the client's storage
        flow_type=flow_type,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(oauth_server: Any) -> Iterator[SyncGoTrueClient]:
    c = make_client(oauth_server)
    yield c
    c._http_client.close()


def follow_to_app(url: str, *, stop_at: str = APP) -> str:
    """Follow the redirects a browser would, until a URL of the app; that URL."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        for _ in range(8):
            if url.startswith(stop_at):
                return url
            answer = browser.get(url)
            assert answer.status_code in (302, 303), (url, answer.status_code, answer.text)
            url = answer.headers["location"]
    raise AssertionError(f"too many redirects, last {url}")


def persona(oauth_server: Any) -> tuple[str, str]:
    name = "gh-" + uuid.uuid4().hex[:10]
    email = f"{name}@example.com"
    oauth_server.github.personas[name] = oauth_server.github_persona(uuid.uuid4().int % 10**9, name, email)
    return name, email


def test_implicit_sign_in_with_github_puts_the_session_in_the_fragment(oauth_server: Any, client: SyncGoTrueClient) -> None:
    name, email = persona(oauth_server)
    answer = client.sign_in_with_oauth(
        {"provider": "github", "options": {"redirect_to": APP, "query_params": {"login_hint": name}}}
    )
    assert answer.provider == "github" and answer.url.startswith(oauth_server.server.url + "/authorize?")
    landed = follow_to_app(answer.url)
    fragment = dict(parse_qsl(urlsplit(landed).fragment))
    assert fragment["token_type"] == "bearer" and fragment["provider_token"].startswith("provider-access-token")
    client.set_session(fragment["access_token"], fragment["refresh_token"])
    user = client.get_user()
    assert user is not None and user.user.email == email
    assert user.user.app_metadata["provider"] == "github"
    assert [i.provider for i in user.user.identities or []] == ["github"]
    # the same person again is the same user
    again = dict(parse_qsl(urlsplit(follow_to_app(client.sign_in_with_oauth(
        {"provider": "github", "options": {"redirect_to": APP, "query_params": {"login_hint": name}}}).url)).fragment))
    other = make_client(oauth_server)
    other.set_session(again["access_token"], again["refresh_token"])
    assert other.get_user().user.id == user.user.id  # type: ignore[union-attr]
    other._http_client.close()


def test_pkce_sign_in_exchanges_the_code_for_a_session(oauth_server: Any) -> None:
    name, email = persona(oauth_server)
    client = make_client(oauth_server, "pkce")
    try:
        answer = client.sign_in_with_oauth(
            {"provider": "github", "options": {"redirect_to": APP, "query_params": {"login_hint": name}}}
        )
        assert "code_challenge=" in answer.url
        landed = follow_to_app(answer.url)
        code = dict(parse_qsl(urlsplit(landed).query))["code"]
        assert not urlsplit(landed).fragment
        session = client.exchange_code_for_session({"auth_code": code})
        assert session.user is not None and session.user.email == email
        assert session.session is not None and session.session.provider_token
        # the code is spent
        with pytest.raises(Exception):
            client.exchange_code_for_session({"auth_code": code})
    finally:
        client._http_client.close()


def keycloak_persona(oauth_server: Any) -> tuple[str, str, str]:
    name = "kc-" + uuid.uuid4().hex[:10]
    email = f"{name}@example.com"
    sub = str(uuid.uuid4())
    oauth_server.keycloak.personas[name] = {"claims": {"sub": sub, "email": email, "email_verified": True, "name": name.title()}}
    return name, email, sub


def test_keycloak_oidc_code_flow_signs_in(oauth_server: Any, client: SyncGoTrueClient) -> None:
    name, email, sub = keycloak_persona(oauth_server)
    answer = client.sign_in_with_oauth({"provider": "keycloak", "options": {"redirect_to": APP, "query_params": {"login_hint": name}}})
    fragment = dict(parse_qsl(urlsplit(follow_to_app(answer.url)).fragment))
    assert "access_token" in fragment, fragment
    client.set_session(fragment["access_token"], fragment["refresh_token"])
    user = client.get_user().user  # type: ignore[union-attr]
    assert user.email == email and user.app_metadata["provider"] == "keycloak"
    assert user.user_metadata["sub"] == sub and user.user_metadata["iss"] == oauth_server.keycloak.issuer


def test_sign_in_with_id_token_verifies_the_realms_token(oauth_server: Any, client: SyncGoTrueClient) -> None:
    import hashlib

    from supabase_auth.errors import AuthApiError

    keycloak = oauth_server.keycloak
    email = f"native-{uuid.uuid4().hex[:8]}@example.com"
    nonce = uuid.uuid4().hex
    token = keycloak.sign(keycloak.claims(
        sub=str(uuid.uuid4()), email=email, email_verified=True, nonce=hashlib.sha256(nonce.encode()).hexdigest()))
    answer = client.sign_in_with_id_token({"provider": "keycloak", "token": token, "nonce": nonce})
    assert answer.session is not None and answer.user is not None and answer.user.email == email
    assert [i.provider for i in answer.user.identities or []] == ["keycloak"]
    assert client.get_user().user.id == answer.user.id  # type: ignore[union-attr]

    with pytest.raises(AuthApiError) as refused:
        client.sign_in_with_id_token({"provider": "keycloak", "token": token, "nonce": "not-the-nonce"})
    assert refused.value.status == 400 and "Nonces mismatch" in refused.value.message


def test_link_list_and_unlink_identities(oauth_server: Any, client: SyncGoTrueClient) -> None:
    from supabase_auth.errors import AuthApiError

    gh_name, gh_email = persona(oauth_server)
    kc_name, _, kc_sub = keycloak_persona(oauth_server)
    signed_in = client.sign_in_with_oauth({"provider": "github", "options": {"redirect_to": APP, "query_params": {"login_hint": gh_name}}})
    fragment = dict(parse_qsl(urlsplit(follow_to_app(signed_in.url)).fragment))
    client.set_session(fragment["access_token"], fragment["refresh_token"])
    user_id = client.get_user().user.id  # type: ignore[union-attr]

    linking = client.link_identity({"provider": "keycloak", "options": {"redirect_to": APP, "query_params": {"login_hint": kc_name}}})
    assert linking.url.startswith(oauth_server.keycloak.url)
    linked = dict(parse_qsl(urlsplit(follow_to_app(linking.url)).fragment))
    assert "access_token" in linked, linked
    client.set_session(linked["access_token"], linked["refresh_token"])
    identities = client.get_user_identities().identities
    assert sorted(i.provider for i in identities) == ["github", "keycloak"]
    assert client.get_user().user.id == user_id  # type: ignore[union-attr]
    assert next(i for i in identities if i.provider == "keycloak").id == kc_sub

    client.unlink_identity(next(i for i in identities if i.provider == "keycloak"))
    remaining = client.get_user_identities().identities
    assert [i.provider for i in remaining] == ["github"]
    with pytest.raises(AuthApiError) as last:
        client.unlink_identity(remaining[0])
    assert last.value.code == "single_identity_not_deletable" and last.value.status == 422
    assert client.get_user().user.email == gh_email  # type: ignore[union-attr]
