"""One emailed code, one PKCE code: spent once even when several pytrue instances race on PostgreSQL.

Several apps with their own pools (the `apps` fixture) stand in for several server processes, so
only the database's row locks can serialise them. Each racer pauses between reading the code and
spending it, which opens the race window wide.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

from pytrue.adapters.postgres.repositories import PgUserRepository
from pytrue.application.use_cases.verify import Verify

CONFIRM = {"GOTRUE_MAILER_AUTOCONFIRM": "false"}
VERIFIER = "r" * 60
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
RACERS = 6
PAUSE = 0.2


async def test_a_link_followed_by_racing_instances_signs_in_once(apps: Any, monkeypatch: Any) -> None:
    cluster = await apps(RACERS, CONFIRM)
    await cluster[0].signup("race@example.com")
    token_hash = cluster[0].mail("race@example.com").token_hash
    apply = Verify._apply

    async def slow_apply(self: Verify, *args: Any) -> Any:
        await asyncio.sleep(PAUSE)
        return await apply(self, *args)

    monkeypatch.setattr(Verify, "_apply", slow_apply)
    responses = await asyncio.gather(
        *(
            api.client.post("/verify", json={"type": "signup", "token_hash": token_hash}, headers=api.headers())
            for api in cluster
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [403] * (RACERS - 1), [r.text for r in responses]
    assert all(r.json()["error_code"] == "otp_expired" for r in responses if r.status_code == 403)
    assert (await cluster[0].counts())["sessions"] == 1


async def test_a_pkce_code_exchanged_by_racing_instances_yields_one_session(apps: Any, monkeypatch: Any) -> None:
    cluster = await apps(RACERS, CONFIRM)
    api = cluster[0]
    await api.client.post(
        "/signup",
        json={
            "email": "pkce-race@example.com",
            "password": "s3cret-pass",
            "code_challenge": CHALLENGE,
            "code_challenge_method": "s256",
        },
        headers=api.headers(),
    )
    link = api.mail("pkce-race@example.com").link
    redirected = await api.client.get(link[link.index("/verify") :], follow_redirects=False)
    code = redirected.headers["location"].split("code=")[1]
    await _race_pkce_exchange(cluster, code, monkeypatch)
    assert (await api.counts())["sessions"] == 1


async def test_a_recovery_request_racing_a_confirmation_does_not_undo_it(apps: Any, monkeypatch: Any) -> None:
    from pytrue.application.email_codes import EmailCodes

    first, second = await apps(2, CONFIRM)
    await first.signup("both@example.com")
    token_hash = first.mail("both@example.com").token_hash
    issue = EmailCodes.issue

    async def slow_issue(self: EmailCodes, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(PAUSE)  # the recovery request holds a stale copy of the user this long
        return await issue(self, *args, **kwargs)

    monkeypatch.setattr(EmailCodes, "issue", slow_issue)
    recover, verify = await asyncio.gather(
        second.client.post("/recover", json={"email": "both@example.com"}, headers=second.headers()),
        first.client.post("/verify", json={"type": "signup", "token_hash": token_hash}, headers=first.headers()),
    )
    assert recover.status_code == 200 and verify.status_code == 200, (recover.text, verify.text)
    stored = await first.user()
    assert stored["email_confirmed_at"] is not None
    assert stored["confirmation_token"] == ""


async def test_an_oauth_state_raced_by_instances_signs_in_once(apps: Any, monkeypatch: Any) -> None:
    from contract.oauth_flows import _env, github
    from support.oauth_providers import CODE, query_of

    from pytrue.application.external_accounts import ExternalAccounts

    with github() as fake:
        cluster = await apps(RACERS, _env("github", fake, GOTRUE_EXTERNAL_GITHUB_URL=fake.url))
        api = cluster[0]

        async def callback(racer: Any, state: str) -> Any:
            return await racer.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)

        async def authorize() -> str:
            answer = await api.client.get("/authorize", params={"provider": "github"}, follow_redirects=False)
            return query_of(answer.headers["location"])["state"]

        assert "access_token=" in (await callback(api, await authorize())).headers["location"]  # a returning user
        state = await authorize()
        sign_in = ExternalAccounts.sign_in

        async def slow_sign_in(self: ExternalAccounts, *args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(PAUSE)
            return await sign_in(self, *args, **kwargs)

        monkeypatch.setattr(ExternalAccounts, "sign_in", slow_sign_in)
        answers = await asyncio.gather(*(callback(racer, state) for racer in cluster))
        locations = [a.headers["location"] for a in answers]
        assert sum("access_token=" in location for location in locations) == 1, locations
        refused = [query_of(location) for location in locations if "access_token=" not in location]
        assert all(q["error_code"] in ("bad_oauth_state", "flow_state_already_used") for q in refused), refused
        counts = await api.counts()
        assert counts["sessions"] == 2 and counts["flow_state"] == 0 and counts["users"] == 1


async def _totp_racers(apps: Any) -> tuple[list[Any], dict[str, Any], str, str]:
    cluster = await apps(RACERS, {})
    api = cluster[0]
    session = (await api.signup("mfa-race@example.com")).json()
    enrolled = (await api.client.post("/factors", json={"factor_type": "totp"}, headers=api.headers(session["access_token"]))).json()
    return cluster, session, enrolled["id"], enrolled["totp"]["secret"]


async def test_one_mfa_challenge_verified_by_racing_instances_steps_up_once(apps: Any, monkeypatch: Any) -> None:
    import pyotp

    from pytrue.adapters.postgres.repositories import PgFactorRepository

    cluster, session, factor_id, secret = await _totp_racers(apps)
    token = session["access_token"]
    challenge = (await cluster[0].client.post(f"/factors/{factor_id}/challenge", json={}, headers=cluster[0].headers(token))).json()
    get_challenge = PgFactorRepository.get_challenge

    async def slow(self: PgFactorRepository, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(PAUSE)
        return await get_challenge(self, *args, **kwargs)

    monkeypatch.setattr(PgFactorRepository, "get_challenge", slow)
    code = pyotp.TOTP(secret).now()
    answers = await asyncio.gather(*(
        racer.client.post(f"/factors/{factor_id}/verify", json={"challenge_id": challenge["id"], "code": code}, headers=racer.headers(token))
        for racer in cluster
    ))  # fmt: skip
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [422] * (RACERS - 1), [a.text for a in answers]
    assert all(a.json()["error_code"] == "mfa_ip_address_mismatch" for a in answers if a.status_code == 422)
    actions = await cluster[0].audit_actions()
    assert actions.count("verification_attempted") == 1


async def test_one_totp_code_on_racing_challenges_is_accepted_once(apps: Any, monkeypatch: Any) -> None:
    import pyotp

    from pytrue.adapters.postgres.repositories import PgFactorRepository

    cluster, session, factor_id, secret = await _totp_racers(apps)
    token = session["access_token"]
    challenges = [
        (await racer.client.post(f"/factors/{factor_id}/challenge", json={}, headers=racer.headers(token))).json()["id"]
        for racer in cluster
    ]
    verified = PgFactorRepository.verified_challenges

    async def slow(self: PgFactorRepository, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(PAUSE)
        return await verified(self, *args, **kwargs)

    monkeypatch.setattr(PgFactorRepository, "verified_challenges", slow)
    code = pyotp.TOTP(secret).now()
    answers = await asyncio.gather(*(
        racer.client.post(f"/factors/{factor_id}/verify", json={"challenge_id": cid, "code": code}, headers=racer.headers(token))
        for racer, cid in zip(cluster, challenges)
    ))  # fmt: skip
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [422] * (RACERS - 1), [a.text for a in answers]
    assert all(a.json()["error_code"] == "mfa_verification_failed" for a in answers if a.status_code == 422)


async def test_an_oauth_pkce_code_exchanged_by_racing_instances_yields_one_session(apps: Any, monkeypatch: Any) -> None:
    import httpx
    from contract.oauth_flows import REDIRECT_URI, _env
    from support.fake_http import Reply
    from support.oauth_providers import FakeProvider, query_of

    fake = FakeProvider(
        authorize_paths=("/login/oauth/authorize",),
        token_path="/login/oauth/access_token",
        personas={"octocat": {
            "user": {"id": 583231, "login": "octocat", "name": "The Octocat", "avatar_url": "https://a/1", "email": None},
            "emails": [{"email": "octocat@github.com", "primary": True, "verified": True}],
        }},
        routes={
            "/api/v3/user": lambda seen: Reply(200, fake.persona(seen)["user"]),
            "/api/v3/user/emails": lambda seen: Reply(200, fake.persona(seen)["emails"]),
        },
    )  # fmt: skip
    with fake:
        cluster = await apps(RACERS, _env("github", fake, GOTRUE_EXTERNAL_GITHUB_URL=fake.url))
        api = cluster[0]
        # the browser's path: /authorize → the provider's consent page → /callback → the app with ?code=
        authorize = await api.client.get(
            "/authorize",
            params={
                "provider": "github", "redirect_to": "http://app.example.com/cb", "login_hint": "octocat",
                "code_challenge": CHALLENGE, "code_challenge_method": "s256",
            },
            follow_redirects=False,
        )  # fmt: skip
        assert authorize.status_code == 302, authorize.text
        consented = httpx.get(authorize.headers["location"], follow_redirects=False)
        assert consented.status_code == 302, consented.text
        back = consented.headers["location"]
        assert back.startswith(REDIRECT_URI + "?code=code-")  # a fresh code of the provider's own
        callback = await api.client.get(back[back.index("/callback") :], follow_redirects=False)
        location = callback.headers["location"]
        assert location.startswith("http://app.example.com/cb?code="), location
        code = query_of(location)["code"]
        assert (await api.counts())["sessions"] == 0

        responses = await _race_pkce_exchange(cluster, code, monkeypatch)
        assert all(r.json()["error_code"] == "flow_state_not_found" for r in responses if r.status_code == 404)
        winner = next(r.json() for r in responses if r.status_code == 200)
        assert winner["user"]["email"] == "octocat@github.com" and winner["provider_token"].startswith("provider-access-token-")
        counts = await api.counts()
        assert counts["sessions"] == 1 and counts["flow_state"] == 0 and counts["users"] == 1


async def _race_pkce_exchange(cluster: Any, code: str, monkeypatch: Any) -> list[Any]:
    """Every instance exchanges `code` at once, each held in the user read so they overlap; exactly
    one must win (the others: 404)."""
    get = PgUserRepository.get

    async def slow_get(self: PgUserRepository, user_id: Any) -> Any:
        await asyncio.sleep(PAUSE)
        return await get(self, user_id)

    monkeypatch.setattr(PgUserRepository, "get", slow_get)
    responses = await asyncio.gather(
        *(
            racer.client.post(
                "/token?grant_type=pkce", json={"auth_code": code, "code_verifier": VERIFIER}, headers=racer.headers()
            )
            for racer in cluster
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [404] * (RACERS - 1), [r.text for r in responses]
    return list(responses)
