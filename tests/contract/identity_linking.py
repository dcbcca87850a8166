"""Identity linking and unlinking (api.md §14.4) and invites accepted through a provider, on either
storage: `/user/identities/authorize` → provider stand-in → `/callback`, `DELETE
/user/identities/{id}` with GoTrue's refusals, `/authorize?invite_token=`. Refusals change nothing."""

from __future__ import annotations

from typing import Any

from contract.oauth_flows import _fragment, github, github_api
from support.oauth_providers import CODE, query_of

LINKING = {"GOTRUE_SECURITY_MANUAL_LINKING_ENABLED": "true", "GOTRUE_MAILER_AUTOCONFIRM": "true"}
ELSEWHERE = [{"email": "octo@elsewhere.example", "primary": True, "verified": True}]


async def _snapshot(api: Any) -> Any:
    return await api.counts(), await api.users()


async def _session(api: Any, email: str = "user@example.com") -> dict[str, Any]:
    response = await api.signup(email)
    assert response.status_code == 200, response.text
    return response.json()


async def _link(api: Any, token: str, **params: str) -> Any:
    return await api.client.get(
        "/user/identities/authorize", params={"provider": "github", **params}, headers=api.headers(token), follow_redirects=False
    )


async def _callback(api: Any, url: str) -> Any:
    return await api.client.get("/callback", params={"code": CODE, "state": query_of(url)["state"]}, follow_redirects=False)


async def _me(api: Any, token: str) -> dict[str, Any]:
    response = await api.client.get("/user", headers=api.headers(token))
    assert response.status_code == 200, response.text
    return response.json()


async def _unlink(api: Any, token: str, identity_id: str, **headers: str) -> Any:
    return await api.client.delete(f"/user/identities/{identity_id}", headers=api.headers(token, **headers))


# --- linking --------------------------------------------------------------------------------------
async def test_manual_linking_is_off_by_default_and_needs_a_signed_in_user(make_api: Any) -> None:
    with github() as fake:
        api = await github_api(make_api, fake, GOTRUE_MAILER_AUTOCONFIRM="true")
        session = await _session(api)
        before = await _snapshot(api)
        off = await _link(api, session["access_token"])
        assert off.status_code == 404 and off.json()["error_code"] == "manual_linking_disabled"
        assert off.json()["msg"] == "Manual linking is disabled"
        identity = session["user"]["identities"][0]["identity_id"]
        gone = await _unlink(api, session["access_token"], identity)
        assert gone.status_code == 404 and gone.json()["error_code"] == "manual_linking_disabled"
        anonymous = await api.client.get("/user/identities/authorize", params={"provider": "github"}, headers={"apikey": api.anon})
        assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "no_authorization"
        assert await _snapshot(api) == before


async def test_linking_through_the_provider_adds_the_identity_to_the_signed_in_user(make_api: Any) -> None:
    with github(ELSEWHERE) as fake:
        api = await github_api(make_api, fake, **LINKING)
        session = await _session(api)
        response = await _link(api, session["access_token"], skip_http_redirect="true", redirect_to="http://app.example.com/linked")
        assert response.status_code == 200, response.text
        url = response.json()["url"]
        assert url.startswith(fake.url + "/login/oauth/authorize?")
        redirect = await _link(api, session["access_token"])
        assert redirect.status_code == 302 and redirect.headers["location"].startswith(fake.url)

        callback = await _callback(api, url)
        assert callback.status_code == 302, callback.text
        location = callback.headers["location"]
        assert location.startswith("http://app.example.com/linked#"), location
        fragment = _fragment(location)
        me = await _me(api, fragment["access_token"])
        assert me["id"] == session["user"]["id"] and me["email"] == "user@example.com"
        assert sorted(i["provider"] for i in me["identities"]) == ["email", "github"]
        assert me["app_metadata"]["providers"] == ["email", "github"]
        assert "identity_linked" in await api.audit_actions()

        # the same provider account again: refused, nothing added
        before = (await api.counts())["identities"]
        again = await _callback(api, redirect.headers["location"])
        query = query_of(again.headers["location"])
        assert query["error_code"] == "identity_already_exists" and query["error_description"] == "Identity is already linked"
        assert (await api.counts())["identities"] == before

        other = await _session(api, "other@example.com")
        taken = await _callback(api, (await _link(api, other["access_token"])).headers["location"])
        assert query_of(taken.headers["location"])["error_description"] == "Identity is already linked to another user"


async def test_a_linking_target_deleted_before_the_callback_is_refused(make_api: Any) -> None:
    with github(ELSEWHERE) as fake:
        api = await github_api(make_api, fake, **LINKING)
        session = await _session(api)
        url = (await _link(api, session["access_token"])).headers["location"]
        deleted = await api.client.delete(f"/admin/users/{session['user']['id']}", headers=api.admin())
        assert deleted.status_code == 200, deleted.text
        before = await _snapshot(api)
        response = await _callback(api, url)
        assert response.status_code == 303
        query = query_of(response.headers["location"])
        assert query["error_code"] == "user_not_found" and query["error_description"] == "Linking target user not found"
        assert await _snapshot(api) == before


# --- unlinking ------------------------------------------------------------------------------------
async def _linked(api: Any, fake: Any) -> tuple[dict[str, Any], str]:
    """A user with an email identity and a GitHub identity (another address); their newest access token."""
    session = await _session(api)
    callback = await _callback(api, (await _link(api, session["access_token"])).headers["location"])
    return session, _fragment(callback.headers["location"])["access_token"]


async def test_unlinking_removes_the_identity_and_recomputes_the_providers(make_api: Any) -> None:
    with github(ELSEWHERE) as fake:
        api = await github_api(make_api, fake, **LINKING)
        session, token = await _linked(api, fake)
        me = await _me(api, token)
        github_identity = next(i for i in me["identities"] if i["provider"] == "github")
        response = await _unlink(api, token, github_identity["identity_id"])
        assert response.status_code == 200, response.text
        assert response.json() == {}
        me = await _me(api, token)
        assert [i["provider"] for i in me["identities"]] == ["email"]
        assert me["app_metadata"]["providers"] == ["email"] and me["email"] == "user@example.com"
        assert "identity_unlinked" in await api.audit_actions()


async def test_unlinking_the_email_identity_promotes_the_providers_email(make_api: Any) -> None:
    with github(ELSEWHERE) as fake:
        api = await github_api(make_api, fake, **LINKING)
        session, token = await _linked(api, fake)
        email_identity = next(i for i in (await _me(api, token))["identities"] if i["provider"] == "email")
        response = await _unlink(api, token, email_identity["identity_id"])
        assert response.status_code == 200, response.text
        me = await _me(api, token)
        assert me["email"] == "octo@elsewhere.example" and me["email_confirmed_at"]
        assert me["app_metadata"] == {"provider": "github", "providers": ["github"]}


async def test_unlinking_refusals_change_nothing(make_api: Any) -> None:
    with github(ELSEWHERE) as fake:
        api = await github_api(make_api, fake, **LINKING)
        # another user has the GitHub account's address: the email identity cannot go
        taker = await api.client.post("/admin/users", json={"email": "octo@elsewhere.example"}, headers=api.admin())
        assert taker.status_code == 200, taker.text
        session, token = await _linked(api, fake)
        identities = {i["provider"]: i["identity_id"] for i in (await _me(api, token))["identities"]}
        lonely = await _session(api, "lonely@example.com")
        before = await _snapshot(api)
        cases = [
            (token, "not-a-uuid", {}, 404, "validation_failed", "identity_id must be an UUID"),
            (token, identities["email"], {"X-JWT-AUD": "another-audience"}, 403, "unexpected_audience",
             "Token audience doesn't match request audience"),
            (token, "00000000-0000-4000-8000-000000000000", {}, 422, "identity_not_found", "Identity doesn't exist"),
            (lonely["access_token"], lonely["user"]["identities"][0]["identity_id"], {}, 422, "single_identity_not_deletable",
             "User must have at least 1 identity after unlinking"),
            (token, identities["email"], {}, 422, "email_conflict_identity_not_deletable", "Unable to unlink identity due to email conflict"),
        ]
        for bearer, identity_id, headers, status, code, message in cases:
            response = await _unlink(api, bearer, identity_id, **headers)
            assert response.status_code == status, (code, response.text)
            assert response.json()["error_code"] == code and response.json()["msg"] == message
        assert await _snapshot(api) == before


async def test_unlinking_a_phone_identity_takes_the_phone_away(make_api: Any) -> None:
    api = await make_api(LINKING)
    created = await api.client.post(
        "/admin/users",
        json={"email": "both@example.com", "phone": "15551234567", "password": "s3cret-pass", "email_confirm": True, "phone_confirm": True},
        headers=api.admin(),
    )
    assert created.status_code == 200, created.text
    token = (await api.password_grant("both@example.com")).json()["access_token"]
    me = await _me(api, token)
    phone = next(i for i in me["identities"] if i["provider"] == "phone")
    response = await _unlink(api, token, phone["identity_id"])
    assert response.status_code == 200, response.text
    me = await _me(api, token)
    assert me["phone"] == "" and not me.get("phone_confirmed_at")
    assert [i["provider"] for i in me["identities"]] == ["email"] and me["app_metadata"]["providers"] == ["email"]
    assert me["email"] == "both@example.com"


# --- invites --------------------------------------------------------------------------------------
async def _invite(api: Any, email: str = "invited@example.com") -> str:
    response = await api.client.post("/admin/generate_link", json={"type": "invite", "email": email}, headers=api.admin())
    assert response.status_code == 200, response.text
    return response.json()["hashed_token"]


async def test_an_invite_is_accepted_by_signing_in_with_a_provider(make_api: Any) -> None:
    with github([{"email": "invited@example.com", "primary": True, "verified": False}]) as fake:
        api = await github_api(make_api, fake)
        token = await _invite(api)
        authorize = await api.client.get(
            "/authorize", params={"provider": "github", "invite_token": token}, follow_redirects=False
        )
        assert authorize.status_code == 302, authorize.text
        callback = await _callback(api, authorize.headers["location"])
        fragment = _fragment(callback.headers["location"])
        assert "access_token" in fragment, callback.headers["location"]
        me = await _me(api, fragment["access_token"])
        assert me["email"] == "invited@example.com" and me["email_confirmed_at"]
        assert [i["provider"] for i in me["identities"]] == ["github"]
        assert me["app_metadata"]["provider"] == "github"
        assert "invite_accepted" in await api.audit_actions()
        assert (await api.counts())["users"] == 1

        # the invite is spent
        reused = await api.client.get("/authorize", params={"provider": "github", "invite_token": token}, follow_redirects=False)
        assert reused.status_code == 404 and reused.json()["error_code"] == "user_not_found"


async def test_an_invite_needs_the_invited_email_and_a_live_token(make_api: Any) -> None:
    with github(ELSEWHERE) as fake:
        api = await github_api(make_api, fake)
        token = await _invite(api)
        before = await _snapshot(api)
        unknown = await api.client.get("/authorize", params={"provider": "github", "invite_token": "f" * 56}, follow_redirects=False)
        assert unknown.status_code == 404
        assert unknown.json()["error_code"] == "user_not_found" and unknown.json()["msg"] == "User identified by token not found"
        assert await _snapshot(api) == before

        authorize = await api.client.get("/authorize", params={"provider": "github", "invite_token": token}, follow_redirects=False)
        before = await _snapshot(api)
        callback = await _callback(api, authorize.headers["location"])
        query = query_of(callback.headers["location"])
        assert query["error_code"] == "validation_failed"
        assert query["error_description"] == "Invited email does not match emails from external provider"
        counts, users = await _snapshot(api)
        assert users == before[1] and counts["identities"] == before[0]["identities"] and counts["sessions"] == 0
