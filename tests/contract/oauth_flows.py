"""External sign-in end to end on either storage: /authorize → provider stand-in → /callback → session
(api.md §14), with GoTrue's error redirects and the database unchanged where GoTrue changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from support.oauth_providers import ACCESS_TOKEN, CODE, REFRESH_TOKEN, FakeProvider, bearer, query_of, s256

REDIRECT_URI = "http://localhost:9999/callback"
VERIFIER = "v" * 50


def _env(name: str, fake: FakeProvider, **extra: str) -> dict[str, str]:
    p = f"GOTRUE_EXTERNAL_{name.upper()}_"
    env = {
        p + "ENABLED": "true", p + "CLIENT_ID": fake.client_id, p + "SECRET": fake.secret, p + "REDIRECT_URI": REDIRECT_URI,
        "GOTRUE_URI_ALLOW_LIST": "http://app.example.com/**",
    }
    env.update(extra)
    return env


@contextmanager
def github(emails: list[dict[str, Any]] | None = None, user_id: int = 583231) -> Iterator[FakeProvider]:
    fake = FakeProvider(
        token_path="/login/oauth/access_token",
        routes={
            "/api/v3/user": bearer({"id": user_id, "login": "octocat", "name": "The Octocat", "avatar_url": "https://a/1", "email": None}),
            "/api/v3/user/emails": bearer(
                emails if emails is not None else [{"email": "Octocat@GitHub.com", "primary": True, "verified": True}]
            ),
        },
    )
    with fake:
        yield fake


async def github_api(make_api: Any, fake: FakeProvider, **extra: str) -> Any:
    return await make_api(_env("github", fake, GOTRUE_EXTERNAL_GITHUB_URL=fake.url, **extra))


async def _authorize(api: Any, provider: str, **params: str) -> Any:
    return await api.client.get("/authorize", params={"provider": provider, **params}, follow_redirects=False)


def _fragment(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).fragment, keep_blank_values=True))


async def _snapshot(api: Any) -> Any:
    return await api.counts(), await api.users()


# --- success paths ------------------------------------------------------------------------------
async def test_github_implicit_sign_in_creates_the_user_and_redirects_with_tokens(make_api: Any) -> None:
    with github() as fake:
        api = await github_api(make_api, fake)
        response = await _authorize(api, "github", redirect_to="http://app.example.com/welcome", scopes="repo")
        assert response.status_code == 302
        url = response.headers["location"]
        assert url.startswith(fake.url + "/login/oauth/authorize?")
        query = query_of(url)
        assert query["client_id"] == fake.client_id and query["redirect_uri"] == REDIRECT_URI
        assert query["response_type"] == "code" and "repo" in query["scope"]
        state = query["state"]
        assert (await api.counts())["flow_state"] == 1

        callback = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        assert callback.status_code == 302, callback.text
        location = callback.headers["location"]
        assert location.startswith("http://app.example.com/welcome#")
        fragment = _fragment(location)
        assert fragment["provider_token"] == ACCESS_TOKEN and fragment["provider_refresh_token"] == REFRESH_TOKEN
        assert fragment["token_type"] == "bearer" and fragment["sb"] == ""
        assert set(fragment) >= {"access_token", "refresh_token", "expires_at", "expires_in"}

        me = await api.client.get("/user", headers={"Authorization": f"Bearer {fragment['access_token']}"})
        assert me.status_code == 200
        body = me.json()
        assert body["email"] == "octocat@github.com"
        assert body["app_metadata"] == {"provider": "github", "providers": ["github"]}
        assert body["user_metadata"]["provider_id"] == "583231"
        assert body["email_confirmed_at"]
        assert [i["provider"] for i in body["identities"]] == ["github"]
        counts = await api.counts()
        assert counts["users"] == 1 and counts["identities"] == 1 and counts["flow_state"] == 0 and counts["sessions"] == 1
        assert "user_signedup" in await api.audit_actions()

        # signing in again finds the same account
        again = await _authorize(api, "github")
        callback = await api.client.get("/callback", params={"code": CODE, "state": query_of(again.headers["location"])["state"]}, follow_redirects=False)
        assert callback.headers["location"].startswith("http://localhost:3000#access_token=")
        counts = await api.counts()
        assert counts["users"] == 1 and counts["identities"] == 1 and counts["sessions"] == 2


async def test_github_pkce_sign_in_hands_a_code_to_the_token_endpoint(make_api: Any) -> None:
    with github() as fake:
        api = await github_api(make_api, fake)
        response = await _authorize(
            api, "github", redirect_to="http://app.example.com/cb", code_challenge=s256(VERIFIER), code_challenge_method="s256"
        )
        state = query_of(response.headers["location"])["state"]
        callback = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        assert callback.status_code == 302
        location = callback.headers["location"]
        assert location.startswith("http://app.example.com/cb?code=")
        code = query_of(location)["code"]
        # the state is spent: a second callback is refused
        replay = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        assert replay.status_code == 303 and query_of(replay.headers["location"])["error_code"] == "flow_state_already_used"

        token = await api.client.post("/token?grant_type=pkce", json={"auth_code": code, "code_verifier": VERIFIER})
        assert token.status_code == 200, token.text
        assert token.json()["user"]["email"] == "octocat@github.com"
        assert (await api.counts())["flow_state"] == 0


async def test_a_verified_provider_email_links_to_the_existing_account(make_api: Any) -> None:
    with github([{"email": "user@example.com", "primary": True, "verified": True}]) as fake:
        api = await github_api(make_api, fake, GOTRUE_MAILER_AUTOCONFIRM="true")
        assert (await api.signup()).status_code == 200
        response = await _authorize(api, "github")
        callback = await api.client.get("/callback", params={"code": CODE, "state": query_of(response.headers["location"])["state"]}, follow_redirects=False)
        assert "access_token=" in callback.headers["location"]
        users = await api.users()
        assert len(users) == 1
        assert users[0]["app_metadata"]["providers"] == ["email", "github"]
        assert "identity_linked" in await api.audit_actions()


# --- error paths ----------------------------------------------------------------------------------
async def test_unknown_and_disabled_providers_are_refused_without_a_row(make_api: Any) -> None:
    api = await make_api()
    before = await _snapshot(api)
    for name in ("nope", "github"):
        response = await _authorize(api, name)
        assert response.status_code == 400
        body = response.json()
        assert body["error_code"] == "validation_failed" and body["msg"].startswith("Unsupported provider: ")
    assert await _snapshot(api) == before


async def test_a_hostile_redirect_to_is_replaced_by_the_site_url(make_api: Any) -> None:
    with github() as fake:
        api = await github_api(make_api, fake)
        response = await _authorize(api, "github", redirect_to="https://evil.example.net/steal")
        state = query_of(response.headers["location"])["state"]
        callback = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        assert callback.headers["location"].startswith("http://localhost:3000#access_token=")


async def test_bad_states_redirect_to_the_site_url_and_change_nothing(make_api: Any) -> None:
    with github() as fake:
        api = await github_api(make_api, fake)
        before = await _snapshot(api)
        cases = [
            ({"code": CODE}, "bad_oauth_callback", "OAuth state parameter missing"),
            ({"code": CODE, "state": "not-a-uuid"}, "bad_oauth_state", "OAuth state parameter is invalid"),
            ({"code": CODE, "state": "6f0e6d2c-0000-4000-8000-000000000000"}, "bad_oauth_state", "OAuth state not found or expired"),
        ]
        for params, code, message in cases:
            response = await api.client.get("/callback", params=params, follow_redirects=False)
            assert response.status_code == 303
            location = response.headers["location"]
            assert location.startswith("http://localhost:3000?") and "#" not in location
            query = query_of(location)
            assert query == {"error": "invalid_request", "error_code": code, "error_description": message}
        assert await _snapshot(api) == before
        assert fake.tokens_issued == 0


async def test_an_expired_flow_state_is_refused(make_api: Any) -> None:
    from datetime import datetime, timezone

    from pytrue.adapters.system import FixedClock

    clock = FixedClock(datetime.now(timezone.utc))
    with github() as fake:
        api = await make_api(_env("github", fake, GOTRUE_EXTERNAL_GITHUB_URL=fake.url), clock=clock)
        state = query_of((await _authorize(api, "github")).headers["location"])["state"]
        clock.advance(seconds=301)
        before = await _snapshot(api)
        response = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        assert response.status_code == 303
        assert query_of(response.headers["location"])["error_description"] == "OAuth state has expired"
        assert await _snapshot(api) == before


async def test_provider_errors_redirect_with_the_error_in_query_and_fragment(make_api: Any) -> None:
    with github() as fake:
        api = await github_api(make_api, fake)
        state = query_of((await _authorize(api, "github", redirect_to="http://app.example.com/x")).headers["location"])["state"]
        before = await _snapshot(api)
        response = await api.client.get("/callback", params={"state": state, "error": "access_denied", "error_description": "nope"}, follow_redirects=False)
        assert response.status_code == 302
        location = response.headers["location"]
        assert location.startswith("http://app.example.com/x?")
        assert query_of(location) == {"error": "access_denied", "error_description": "nope"}
        assert _fragment(location) == {"error": "access_denied", "error_description": "nope", "sb": ""}

        fake.faults["/login/oauth/access_token"] = __import__("support.fake_http", fromlist=["Reply"]).Reply(500, {"error": "boom"})
        response = await api.client.get("/callback", params={"state": state, "code": CODE}, follow_redirects=False)
        query = query_of(response.headers["location"])
        assert query["error"] == "server_error" and query["error_code"] == "unexpected_failure"
        assert query["error_description"] == "Unable to exchange external code: the-"
        assert await _snapshot(api) == before


async def test_a_banned_user_is_refused(make_api: Any) -> None:
    with github() as fake:
        api = await github_api(make_api, fake)
        state = query_of((await _authorize(api, "github")).headers["location"])["state"]
        first = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        user_id = json.loads(__import__("base64").urlsafe_b64decode(_fragment(first.headers["location"])["access_token"].split(".")[1] + "=="))["sub"]
        banned = await api.client.put(
            f"/admin/users/{user_id}", json={"ban_duration": "24h"}, headers={"Authorization": f"Bearer {api.service}"}
        )
        assert banned.status_code == 200, banned.text
        state = query_of((await _authorize(api, "github")).headers["location"])["state"]
        sessions = (await api.counts())["sessions"]
        response = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        query = query_of(response.headers["location"])
        assert query["error"] == "access_denied" and query["error_code"] == "user_banned"
        assert (await api.counts())["sessions"] == sessions


async def test_an_unverified_email_needs_verification(make_api: Any) -> None:
    with github([{"email": "new@example.com", "primary": True, "verified": False}]) as fake:
        api = await github_api(make_api, fake, GOTRUE_MAILER_AUTOCONFIRM="false")
        state = query_of((await _authorize(api, "github")).headers["location"])["state"]
        response = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        query = query_of(response.headers["location"])
        assert query.get("error") == "access_denied", response.headers["location"]
        assert query["error_code"] == "provider_email_needs_verification"
        assert query["error_description"] == (
            "Unverified email with github. A confirmation email has been sent to your github email"
        )
        counts = await api.counts()
        assert counts["users"] == 1 and counts["sessions"] == 0  # the user row survives, as in GoTrue


async def test_no_email_fails_unless_the_provider_is_email_optional(make_api: Any) -> None:
    with github([]) as fake:
        api = await github_api(make_api, fake)
        state = query_of((await _authorize(api, "github")).headers["location"])["state"]
        response = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        assert query_of(response.headers["location"])["error_description"] == "Error getting user email from external provider"
        assert (await api.counts())["users"] == 0

        optional = await github_api(make_api, fake, GOTRUE_EXTERNAL_GITHUB_EMAIL_OPTIONAL="true")
        state = query_of((await _authorize(optional, "github")).headers["location"])["state"]
        response = await optional.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        assert "access_token=" in response.headers["location"]
        assert (await optional.users())[0]["email"] == ""


async def test_google_oidc_sign_in_reads_the_verified_id_token(make_api: Any) -> None:
    fake = FakeProvider(
        with_id_token=True, id_token_claims={"email": "g@example.com", "email_verified": True, "name": "G"}
    )
    with fake:
        api = await make_api(_env("google", fake))
        api.container.core.oauth_overrides()["google"] = {"issuer": fake.issuer, "userinfo_url": fake.url + "/userinfo"}
        response = await _authorize(api, "google")
        assert response.status_code == 302, response.text
        url = response.headers["location"]
        assert url.startswith(fake.url + "/authorize?")
        state = query_of(url)["state"]
        callback = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        fragment = _fragment(callback.headers["location"])
        assert "access_token" in fragment, callback.headers["location"]
        users = await api.users()
        assert users[0]["email"] == "g@example.com"
        assert users[0]["app_metadata"]["provider"] == "google"


async def test_apple_answers_with_a_form_post(make_api: Any) -> None:
    fake = FakeProvider(with_id_token=True, id_token_claims={"email": "a@example.com", "email_verified": True})
    with fake:
        api = await make_api(_env("apple", fake))
        api.container.core.oauth_overrides()["apple"] = {"issuer": fake.issuer}
        response = await _authorize(api, "apple")
        assert response.status_code == 302, response.text
        state = query_of(response.headers["location"])["state"]
        callback = await api.client.post(
            "/callback", data={"code": CODE, "state": state}, follow_redirects=False
        )
        assert callback.status_code == 302
        assert "access_token" in _fragment(callback.headers["location"]), callback.headers["location"]
        assert (await api.users())[0]["email"] == "a@example.com"
