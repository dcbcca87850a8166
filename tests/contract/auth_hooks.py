"""The custom access token and user-creation hooks over HTTP (GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_*,
_BEFORE_USER_CREATED_*, _AFTER_USER_CREATED_*) on either storage, against a local receiver that
checks the Standard Webhooks signature: GoTrue's payloads, the claims a hook answers signed
as they are, GoTrue's claim checks, and every refusal or failure leaving nothing written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import jwt
from contract.phone_flows import HOOK_KEY, HookReceiver
from support.app import JWT_SECRET
from support.fake_http import Reply, Seen

PASSWORD = "s3cret-pass"


class ComputingHook(HookReceiver):
    """A signed-payload receiver whose answer is computed from the payload (`answer`)."""

    def __init__(self, answer: Callable[[dict[str, Any]], Reply]) -> None:
        super().__init__()
        self.answer = answer

    def _handle(self, seen: Seen) -> Reply:
        refused = super()._handle(seen)
        if refused.status == 401:
            return refused
        return self.answer(self.payloads[-1])


@contextmanager
def receiver(answer: Callable[[dict[str, Any]], Reply]) -> Iterator[ComputingHook]:
    hook = ComputingHook(answer)
    with hook.server:
        yield hook


def _env(hook: HookReceiver, *names: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in names:
        prefix = f"GOTRUE_HOOK_{name.upper()}_"
        env |= {prefix + "ENABLED": "true", prefix + "URI": f"{hook.server.url}/{name}", prefix + "SECRETS": "v1,whsec_" + HOOK_KEY}
    return env


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, JWT_SECRET, algorithms=["HS256"], audience="authenticated")


def _with_claims(**extra: Any) -> Callable[[dict[str, Any]], Reply]:
    return lambda payload: Reply(200, {"claims": {**payload["claims"], **extra}})


# --- custom access token --------------------------------------------------------------------


async def test_the_access_token_hook_sees_gotrues_claims_and_its_answer_is_signed(make_api: Any) -> None:
    with receiver(_with_claims(tenant="acme", role="authenticated")) as hook:
        api = await make_api(_env(hook, "custom_access_token"))
        signed_up = await api.signup()
        assert signed_up.status_code == 200, signed_up.text
        [payload] = hook.payloads
        assert payload["metadata"]["name"] == "customize-access-token" and payload["metadata"]["uuid"]
        assert payload["authentication_method"] == "password"
        user_id = signed_up.json()["user"]["id"]
        assert payload["user_id"] == user_id
        claims = payload["claims"]
        for name in ("aud", "exp", "iat", "sub", "email", "phone", "role", "aal", "session_id", "is_anonymous", "amr"):
            assert name in claims, name
        assert claims["sub"] == user_id and claims["aal"] == "aal1" and claims["amr"][0]["method"] == "password"

        token = _claims(signed_up.json()["access_token"])
        assert token["tenant"] == "acme" and token["sub"] == user_id

        signed_in = await api.password_grant()
        assert _claims(signed_in.json()["access_token"])["tenant"] == "acme"
        refreshed = await api.refresh(signed_in.json()["refresh_token"])
        assert refreshed.status_code == 200, refreshed.text
        assert _claims(refreshed.json()["access_token"])["tenant"] == "acme"
        assert [p["authentication_method"] for p in hook.payloads] == ["password", "password", "token_refresh"]
        # the tokens work where pytrue verifies them
        me = await api.client.get("/user", headers=api.headers(refreshed.json()["access_token"]))
        assert me.status_code == 200 and me.json()["id"] == user_id


async def test_the_hook_may_remove_optional_claims_and_change_the_role(make_api: Any) -> None:
    def answer(payload: dict[str, Any]) -> Reply:
        claims = {k: v for k, v in payload["claims"].items() if k not in ("app_metadata", "user_metadata", "amr")}
        return Reply(200, {"claims": {**claims, "role": "anon"}})

    with receiver(answer) as hook:
        api = await make_api(_env(hook, "custom_access_token"))
        token = (await api.signup()).json()["access_token"]
        claims = _claims(token)
        assert claims["role"] == "anon" and "app_metadata" not in claims and "amr" not in claims


def _refuse_every(reply: Reply) -> Callable[[dict[str, Any]], Reply]:
    return lambda payload: reply


async def test_unusable_claims_fail_the_sign_in_with_nothing_written(make_api: Any) -> None:
    without_sub = lambda p: Reply(200, {"claims": {k: v for k, v in p["claims"].items() if k != "sub"}})  # noqa: E731
    string_exp = lambda p: Reply(200, {"claims": {**p["claims"], "exp": "tomorrow"}})  # noqa: E731
    cases: list[tuple[Callable[[dict[str, Any]], Reply], int, str]] = [
        (without_sub, 500, "output claims do not conform to the expected schema: \n- (root): sub is required\n"),
        (string_exp, 500, "output claims do not conform to the expected schema: \n- exp: Invalid type. Expected: integer, given: string\n"),
        (_refuse_every(Reply(200, {"something": "else"})), 500, "output claims field is missing"),
        (_refuse_every(Reply(200, {"claims": ["not", "an", "object"]})), 500, "Error unmarshaling JSON output."),
        (_refuse_every(Reply(200, {"error": {"http_code": 403, "message": "tenant suspended"}})), 403, "tenant suspended"),
        (_refuse_every(Reply(500, {})), 500, "Unexpected status code returned from hook: 500"),
    ]
    for answer, status, message in cases:
        ok = {"value": True}

        def switch(payload: dict[str, Any], answer: Callable[[dict[str, Any]], Reply] = answer) -> Reply:
            return _with_claims()(payload) if ok["value"] else answer(payload)

        with receiver(switch) as hook:
            api = await make_api(_env(hook, "custom_access_token"))
            session = (await api.signup()).json()
            ok["value"] = False
            before = await api.counts()
            signed_in = await api.password_grant()
            assert signed_in.status_code == status, (message, signed_in.text)
            assert signed_in.json()["msg"] == message
            refreshed = await api.refresh(session["refresh_token"])
            assert refreshed.status_code == status and refreshed.json()["msg"] == message
            assert await api.counts() == before  # no session, no rotation, no audit row
            ok["value"] = True
            again = await api.refresh(session["refresh_token"])  # the refused refresh used nothing up
            assert again.status_code == 200, again.text


async def test_a_refused_anonymous_sign_in_or_otp_verification_writes_nothing(make_api: Any) -> None:
    with receiver(_refuse_every(Reply(200, {"error": {"http_code": 422, "message": "no tokens today"}}))) as hook:
        api = await make_api({**_env(hook, "custom_access_token"), "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": "true"})
        before = await api.counts()
        anonymous = await api.client.post("/signup", json={}, headers=api.headers())
        assert anonymous.status_code == 422 and anonymous.json()["msg"] == "no tokens today"
        assert await api.counts() == before
        assert hook.payloads[0]["authentication_method"] == "anonymous"


# --- before and after user created ---------------------------------------------------------


def _refuse_domain(payload: dict[str, Any]) -> Reply:
    if payload["metadata"]["name"] == "before-user-created" and str(payload["user"].get("email", "")).endswith("@blocked.test"):
        return Reply(200, {"error": {"http_code": 400, "message": "Sign-ups from this domain are closed"}})
    return Reply(200, {})


async def test_before_user_created_sees_the_new_user_and_may_refuse_it(make_api: Any) -> None:
    with receiver(_refuse_domain) as hook:
        api = await make_api(_env(hook, "before_user_created", "after_user_created"))
        created = await api.signup("someone@example.com", PASSWORD, data={"plan": "pro"})
        assert created.status_code == 200, created.text
        user = created.json()["user"]
        before, after = hook.payloads
        assert before["metadata"]["name"] == "before-user-created" and after["metadata"]["name"] == "after-user-created"
        assert before["user"]["id"] == user["id"] == after["user"]["id"]
        assert before["user"]["email"] == "someone@example.com" and before["user"]["user_metadata"]["plan"] == "pro"
        assert "encrypted_password" not in before["user"] and PASSWORD not in str(before)

        hook.payloads.clear()
        counts = await api.counts()
        refused = await api.signup("mallory@blocked.test", PASSWORD)
        assert refused.status_code == 400 and refused.json()["msg"] == "Sign-ups from this domain are closed"
        assert await api.counts() == counts
        assert [p["metadata"]["name"] for p in hook.payloads] == ["before-user-created"]  # no after: nothing was created

        hook.payloads.clear()
        again = await api.signup("someone@example.com", PASSWORD)  # an existing user is not created again
        assert again.status_code == 422 and again.json()["error_code"] == "user_already_exists"
        assert hook.payloads == []
        signed_in = await api.password_grant("someone@example.com")
        assert signed_in.status_code == 200 and hook.payloads == []


async def test_invites_otp_sign_ups_and_admin_links_run_the_user_hooks(make_api: Any) -> None:
    with receiver(_refuse_domain) as hook:
        api = await make_api(_env(hook, "before_user_created", "after_user_created"))
        invited = await api.client.post("/invite", json={"email": "guest@example.com"}, headers=api.admin())
        assert invited.status_code == 200, invited.text
        otp = await api.client.post("/otp", json={"email": "otp@example.com"}, headers=api.headers())
        assert otp.status_code == 200, otp.text
        link = await api.client.post(
            "/admin/generate_link", json={"type": "signup", "email": "link@example.com", "password": PASSWORD}, headers=api.admin()
        )
        assert link.status_code == 200, link.text
        names = [(p["metadata"]["name"], p["user"]["email"]) for p in hook.payloads]
        assert names == [
            ("before-user-created", "guest@example.com"), ("after-user-created", "guest@example.com"),
            ("before-user-created", "otp@example.com"), ("after-user-created", "otp@example.com"),
            ("before-user-created", "link@example.com"), ("after-user-created", "link@example.com"),
        ]  # fmt: skip

        counts = await api.counts()
        for path, body, headers in (
            ("/invite", {"email": "x@blocked.test"}, api.admin()),
            ("/otp", {"email": "y@blocked.test"}, api.headers()),
            ("/admin/generate_link", {"type": "magiclink", "email": "z@blocked.test"}, api.admin()),
        ):
            refused = await api.client.post(path, json=body, headers=headers)
            assert refused.status_code == 400 and refused.json()["msg"] == "Sign-ups from this domain are closed", (path, refused.text)
        assert await api.counts() == counts


async def test_a_failing_after_user_created_hook_is_the_answer_but_the_user_stays(make_api: Any) -> None:
    def answer(payload: dict[str, Any]) -> Reply:
        if payload["metadata"]["name"] == "after-user-created":
            return Reply(200, {"error": {"http_code": 409, "message": "CRM sync failed"}})
        return Reply(200, {})

    with receiver(answer) as hook:
        api = await make_api(_env(hook, "before_user_created", "after_user_created"))
        failed = await api.signup()
        assert failed.status_code == 409 and failed.json()["msg"] == "CRM sync failed"
        assert [u["email"] for u in await api.users()] == ["user@example.com"]  # as GoTrue: created, then the hook's answer
        signed_in = await api.password_grant()
        assert signed_in.status_code == 200


async def test_an_unreachable_before_hook_refuses_the_sign_up(make_api: Any) -> None:
    with receiver(_refuse_every(Reply(400, {}))) as hook:
        api = await make_api(_env(hook, "before_user_created"))
        counts = await api.counts()
        failed = await api.signup()
        assert failed.status_code == 500 and failed.json()["msg"] == "Invalid payload sent to hook"
        assert await api.counts() == counts


# --- send email -----------------------------------------------------------------------------


def _email_hook_env(hook: HookReceiver) -> dict[str, str]:
    return {**_env(hook, "send_email"), "GOTRUE_MAILER_AUTOCONFIRM": "false", "GOTRUE_SMTP_MAX_FREQUENCY": "1ns"}


async def test_the_send_email_hook_gets_every_mail_instead_of_smtp(make_api: Any) -> None:
    with receiver(lambda payload: Reply(200, {})) as hook:
        api = await make_api(_email_hook_env(hook))
        signed_up = await api.signup("mail@example.com", PASSWORD, data={"name": "Ada"})
        assert signed_up.status_code == 200, signed_up.text
        [sent] = hook.payloads
        assert sent["metadata"]["name"] == "send-email"
        assert sent["user"]["email"] == "mail@example.com" and sent["user"]["user_metadata"]["name"] == "Ada"
        data = sent["email_data"]
        assert data["email_action_type"] == "signup" and len(data["token"]) == 6 and data["token_hash"]
        assert data["redirect_to"] and data["site_url"] is not None
        assert set(data) >= {"token_new", "token_hash_new", "old_email", "old_phone", "provider", "factor_type"}
        assert await api.outbox() == []  # nothing queued for SMTP

        confirmed = await api.client.post("/verify", json={"type": "signup", "token_hash": data["token_hash"]}, headers=api.headers())
        assert confirmed.status_code == 200, confirmed.text  # the hook's link data confirm the user
        session = confirmed.json()

        magic = await api.client.post("/otp", json={"email": "mail@example.com"}, headers=api.headers())
        assert magic.status_code == 200, magic.text
        changed = await api.client.put("/user", json={"email": "new@example.com"}, headers=api.headers(session["access_token"]))
        assert changed.status_code == 200, changed.text
        kinds = [p["email_data"]["email_action_type"] for p in hook.payloads]
        assert kinds == ["signup", "magiclink", "email_change"], kinds
        change = hook.payloads[-1]["email_data"]
        # secure email change: one call for both addresses, in GoTrue's layout
        assert change["token"] and change["token_new"] and change["token"] != change["token_new"]
        assert change["token_hash"] and change["token_hash_new"] and change["token_hash"] != change["token_hash_new"]

        second = await api.signup("second@example.com", PASSWORD)
        assert second.status_code == 200
        await api.client.post(
            "/verify", json={"type": "signup", "token_hash": hook.payloads[-1]["email_data"]["token_hash"]}, headers=api.headers()
        )
        recovered = await api.client.post("/recover", json={"email": "second@example.com"}, headers=api.headers())
        assert recovered.status_code == 200, recovered.text
        assert hook.payloads[-1]["email_data"]["email_action_type"] == "recovery"
        assert hook.payloads[-1]["user"]["email"] == "second@example.com"
        assert await api.outbox() == []


async def test_a_refusing_send_email_hook_fails_the_request_with_nothing_written(make_api: Any) -> None:
    with receiver(lambda payload: Reply(200, {"error": {"http_code": 429, "message": "mail quota reached"}})) as hook:
        api = await make_api(_email_hook_env(hook))
        counts = await api.counts()
        refused = await api.signup("mail@example.com", PASSWORD)
        assert refused.status_code == 429 and refused.json()["msg"] == "mail quota reached"
        assert await api.counts() == counts and await api.outbox() == []
        assert len(hook.payloads) == 1
