"""External sign-in beyond the happy path, on either storage (api.md §14.2–14.5): Twitter's OAuth 1.0a
and X's PKCE through /authorize and /callback, account resolution (linking domains, two accounts
with one email, signups disabled, GOTRUE_EXTERNAL_REDIRECTURL), hostile redirect_to values, and
provider failures that leave nothing half-made. Racing callbacks: tests/integration/test_code_reuse_races.py."""

from __future__ import annotations

from typing import Any
from uuid import UUID
from urllib.parse import parse_qsl, urlsplit

from contract.oauth_flows import REDIRECT_URI, _env, _fragment, github, github_api
from support.fake_http import Reply, Seen
from support.oauth_providers import ACCESS_TOKEN, CODE, FakeProvider, bearer, query_of, s256
from support.twitter_provider import KEY, REQUEST_TOKEN, SECRET, TwitterApi
from support.twitter_provider import VERIFIER as TWITTER_VERIFIER

from pytrue.domain.user import Identity, User

VERIFIED = [{"email": "shared@example.com", "primary": True, "verified": True}]


async def _snapshot(api: Any) -> Any:
    return await api.counts(), await api.users()


async def _state(api: Any, provider: str = "github", **params: str) -> str:
    response = await api.client.get("/authorize", params={"provider": provider, **params}, follow_redirects=False)
    assert response.status_code == 302, response.text
    return query_of(response.headers["location"])["state"]


async def _callback(api: Any, state: str, **params: str) -> Any:
    return await api.client.get("/callback", params={"code": CODE, "state": state, **params}, follow_redirects=False)


# --- OAuth 1.0a and PKCE providers -----------------------------------------------------------------
async def test_twitter_signs_in_over_oauth1_through_authorize_and_callback(make_api: Any) -> None:
    twitter = TwitterApi()
    with twitter.server:
        api = await make_api({
            "GOTRUE_EXTERNAL_TWITTER_ENABLED": "true", "GOTRUE_EXTERNAL_TWITTER_CLIENT_ID": KEY,
            "GOTRUE_EXTERNAL_TWITTER_SECRET": SECRET, "GOTRUE_EXTERNAL_TWITTER_REDIRECT_URI": REDIRECT_URI,
            "GOTRUE_EXTERNAL_TWITTER_URL": twitter.server.url,
        })  # fmt: skip
        response = await api.client.get("/authorize", params={"provider": "twitter"}, follow_redirects=False)
        assert response.status_code == 302, response.text
        assert response.headers["location"] == f"{twitter.server.url}/oauth/authenticate?oauth_token={REQUEST_TOKEN}"
        callback_url = twitter.callbacks[-1]
        assert callback_url.startswith(REDIRECT_URI + "?state=")
        state = query_of(callback_url)["state"]

        wrong = await api.client.get(
            "/callback", params={"state": state, "oauth_token": REQUEST_TOKEN, "oauth_verifier": "forged"}, follow_redirects=False
        )
        assert query_of(wrong.headers["location"])["error_code"] == "unexpected_failure"
        assert (await api.counts())["users"] == 0

        done = await api.client.get(
            "/callback", params={"state": state, "oauth_token": REQUEST_TOKEN, "oauth_verifier": TWITTER_VERIFIER}, follow_redirects=False
        )
        fragment = _fragment(done.headers["location"])
        assert "access_token" in fragment, done.headers["location"]
        users = await api.users()
        assert len(users) == 1 and users[0]["email"] == "jack@x.example"
        assert users[0]["app_metadata"] == {"provider": "twitter", "providers": ["twitter"]}


class PkceProvider(FakeProvider):
    """X's token endpoint: the code is good only with the verifier whose S256 is the challenge /authorize sent."""

    challenge: str = ""

    def token(self, seen: Seen) -> Reply:
        verifier = seen.form.get("code_verifier", "")
        if not verifier or s256(verifier) != self.challenge or seen.form.get("code") != CODE:
            return Reply(400, {"error": "invalid_request", "error_description": "Value passed for the authorization code was invalid."})
        return self._issue(ACCESS_TOKEN, {})


async def test_x_keeps_its_own_pkce_verifier_between_authorize_and_callback(make_api: Any) -> None:
    profile = {"data": {"id": "2244994945", "name": "X Dev", "username": "XDevelopers", "confirmed_email": "dev@x.example",
                        "profile_image_url": "https://pbs.twimg.com/x.jpg"}}  # fmt: skip
    fake = PkceProvider(token_path="/2/oauth2/token", routes={"/2/users/me": bearer(profile)})
    with fake:
        api = await make_api(_env("x", fake, GOTRUE_EXTERNAL_X_URL=fake.url))
        response = await api.client.get("/authorize", params={"provider": "x"}, follow_redirects=False)
        assert response.status_code == 302, response.text
        query = query_of(response.headers["location"])
        assert query["code_challenge_method"] == "S256"
        fake.challenge = query["code_challenge"]
        callback = await _callback(api, query["state"])
        assert "access_token" in _fragment(callback.headers["location"]), callback.headers["location"]
        assert (await api.users())[0]["app_metadata"]["provider"] == "x"
        # the verifier was spent with the state: the same state again is refused
        replay = await _callback(api, query["state"])
        assert replay.status_code == 303 and query_of(replay.headers["location"])["error_code"] == "bad_oauth_state"


# --- account resolution --------------------------------------------------------------------------
async def test_a_provider_in_another_linking_domain_gets_its_own_account(make_api: Any) -> None:
    with github(VERIFIED) as fake:
        api = await github_api(
            make_api, fake, GOTRUE_MAILER_AUTOCONFIRM="true", GOTRUE_EXPERIMENTAL_PROVIDER_LINKING_DOMAINS="github=work"
        )
        assert (await api.signup("shared@example.com")).status_code == 200
        callback = await _callback(api, await _state(api))
        assert "access_token" in _fragment(callback.headers["location"]), callback.headers["location"]
        users = {u["app_metadata"]["provider"]: u for u in await api.users()}
        assert set(users) == {"email", "github"}
        assert users["github"]["email"] == "shared@example.com" and users["github"]["is_sso_user"] is True
        assert "identity_linked" not in await api.audit_actions()


async def _second_account_with(api: Any, email: str) -> None:
    """A user whose GitLab identity carries `email` (a drop-in database may hold such rows)."""
    now = api.container.core.clock().now()
    tokens = api.container.core.tokens()
    user = User(id=tokens.uuid(), aud="authenticated", role="authenticated", email="", encrypted_password=None,
                app_metadata={"provider": "gitlab", "providers": ["gitlab"]}, created_at=now, updated_at=now)  # fmt: skip
    user.identities.append(Identity(
        id=tokens.uuid(), user_id=user.id, provider="gitlab", provider_id="gl-1",
        identity_data={"sub": "gl-1", "email": email, "email_verified": True}, created_at=now, updated_at=now,
    ))  # fmt: skip
    async with api.container.adapters.uow()() as uow:
        await uow.users.add(user)
        await uow.commit()


async def test_two_accounts_with_the_verified_email_refuse_to_guess(make_api: Any) -> None:
    with github(VERIFIED) as fake:
        api = await github_api(make_api, fake, GOTRUE_MAILER_AUTOCONFIRM="true")
        assert (await api.signup("shared@example.com")).status_code == 200
        await _second_account_with(api, "shared@example.com")
        state = await _state(api)
        before = await _snapshot(api)
        response = await _callback(api, state)
        query = query_of(response.headers["location"])
        assert query["error"] == "server_error" and query["error_code"] == "unexpected_failure"
        assert query["error_description"] == "Multiple accounts with the same email address in the same linking domain detected: default"
        assert await _snapshot(api) == before


async def test_signups_disabled_refuses_a_new_person_at_the_callback(make_api: Any) -> None:
    with github() as fake:
        api = await github_api(make_api, fake, GOTRUE_DISABLE_SIGNUP="true")
        state = await _state(api, redirect_to="http://app.example.com/in")
        before = await _snapshot(api)
        response = await _callback(api, state)
        location = response.headers["location"]
        assert location.startswith("http://app.example.com/in?")
        query = query_of(location)
        assert query["error"] == "access_denied" and query["error_code"] == "signup_disabled"
        assert query["error_description"] == "Signups not allowed for this instance"
        assert await _snapshot(api) == before


async def test_an_unverified_provider_email_of_an_existing_user_is_not_linked(make_api: Any) -> None:
    with github([{"email": "shared@example.com", "primary": True, "verified": False}]) as fake:
        # with GOTRUE_MAILER_AUTOCONFIRM on, GoTrue counts every provider email as verified (and links)
        api = await github_api(make_api, fake, GOTRUE_MAILER_AUTOCONFIRM="false")
        owner = (await api.signup("shared@example.com")).json()
        sent_before = api.mails()  # the owner's confirmation
        response = await _callback(api, await _state(api))
        query = query_of(response.headers["location"])
        assert query.get("error_code") == "provider_email_needs_verification", response.headers["location"]
        assert query["error_description"] == "Unverified email with github. Verify the email with github in order to sign in"
        users = await api.users()
        assert len(users) == 2  # a separate account without the address, as GoTrue keeps it
        stored_owner = next(u for u in users if u["id"] == owner["id"])
        assert stored_owner["app_metadata"]["providers"] == ["email"]
        newcomer = next(u for u in users if u["id"] != owner["id"])
        assert newcomer["email"] == "" and newcomer["app_metadata"]["providers"] == ["github"]
        assert (await api.counts())["sessions"] == 0
        assert api.mails() == sent_before  # nothing more sent to the owner's address


async def test_a_state_from_another_kind_of_flow_is_not_an_oauth_state(make_api: Any) -> None:
    with github() as fake:
        api = await github_api(make_api, fake, GOTRUE_MAILER_AUTOCONFIRM="false")
        signed_up = await api.client.post(
            "/signup",
            json={"email": "pkce@example.com", "password": "s3cret-pass", "code_challenge": s256("v" * 50), "code_challenge_method": "s256"},
            headers=api.headers(),
        )
        assert signed_up.status_code == 200, signed_up.text
        async with api.container.adapters.uow()() as uow:
            email_flow = await uow.flow_states.latest_for_user(UUID(signed_up.json()["id"]), "email/signup")
        assert email_flow is not None
        before = await _snapshot(api)
        response = await _callback(api, str(email_flow.id))
        assert response.status_code == 303
        query = query_of(response.headers["location"])
        assert query["error_code"] == "bad_oauth_state" and query["error_description"] == "OAuth state not found or expired"
        assert await _snapshot(api) == before
        assert fake.tokens_issued == 0


async def test_the_external_redirect_url_overrides_redirect_to(make_api: Any) -> None:
    with github() as fake:
        api = await github_api(make_api, fake, GOTRUE_EXTERNAL_REDIRECTURL="http://app.example.com/always")
        response = await _callback(api, await _state(api, redirect_to="http://app.example.com/asked"))
        assert response.headers["location"].startswith("http://app.example.com/always#access_token="), response.headers["location"]


async def test_hostile_redirect_targets_fall_back_to_the_site_url(make_api: Any) -> None:
    hostile = [
        "https://evil.example.net/steal",
        "//evil.example.net/steal",
        "http://app.example.com.evil.net/x",
        "http://app.example.com@evil.net/x",
        "javascript:alert(document.cookie)",
        "http://1234567/",
        "https://app.example.com/x",  # the allow list says http
        "http://app.example.com\\@evil.net/",
    ]
    with github() as fake:
        api = await github_api(make_api, fake)
        for target in hostile:
            response = await _callback(api, await _state(api, redirect_to=target))
            location = response.headers["location"]
            assert location.startswith("http://localhost:3000#access_token="), (target, location)


# --- provider failures ---------------------------------------------------------------------------
async def test_provider_failures_redirect_with_an_error_and_write_nothing(make_api: Any) -> None:
    faults = {
        "/login/oauth/access_token": [
            Reply(400, {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}),
            Reply(200, b"<html>not json</html>", headers={"Content-Type": "text/html"}),
            Reply(200, {"token_type": "bearer"}),  # no access_token
        ],
        "/api/v3/user": [Reply(500, {"message": "Server Error"}), Reply(200, b"{broken", headers={"Content-Type": "application/json"})],
        "/api/v3/user/emails": [Reply(502, b"Bad Gateway")],
    }
    with github() as fake:
        api = await github_api(make_api, fake)
        state = await _state(api, redirect_to="http://app.example.com/x")
        before = await _snapshot(api)
        for path, replies in faults.items():
            for reply in replies:
                fake.faults = {path: reply}
                response = await _callback(api, state)
                assert response.status_code == 302
                location = response.headers["location"]
                assert location.startswith("http://app.example.com/x?"), location
                query = dict(parse_qsl(urlsplit(location).query))
                assert query["error"] == "server_error" and query["error_code"] == "unexpected_failure", (path, query)
                assert fake.url not in location and "client-secret" not in location
                assert await _snapshot(api) == before, path
        fake.faults = {}
        # the state survived every failure: the person can still finish
        assert "access_token=" in (await _callback(api, state)).headers["location"]
