"""The password and MFA verification attempt hooks (GOTRUE_HOOK_{PASSWORD,MFA}_VERIFICATION_ATTEMPT_*)
on either storage, against a local receiver that checks the Standard Webhooks signature: the
payloads GoTrue sends, `continue` keeping the verdict, `reject` refusing with the hook's message
(and ending the user's sessions as GoTrue does), a hook error or timeout refusing with nothing won."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyotp
from contract.mfa_factors import IP, _challenge, _enroll, _verify, claims
from contract.phone_flows import HOOK_KEY, HookReceiver
from support.fake_http import Reply

PASSWORD = "s3cret-pass"


@contextmanager
def receiver(*replies: Reply) -> Iterator[HookReceiver]:
    hook = HookReceiver(*replies)
    with hook.server:
        yield hook


def _env(hook: HookReceiver, name: str) -> dict[str, str]:
    prefix = f"GOTRUE_HOOK_{name.upper()}_"
    return {prefix + "ENABLED": "true", prefix + "URI": hook.server.url + "/" + name, prefix + "SECRETS": "v1,whsec_" + HOOK_KEY}


async def test_the_password_hook_sees_every_attempt_and_may_refuse(make_api: Any) -> None:
    with receiver() as hook:
        api = await make_api(_env(hook, "password_verification_attempt"))
        user = (await api.signup()).json()["user"]
        hook.payloads.clear()
        ok = await api.password_grant()
        assert ok.status_code == 200, ok.text
        wrong = await api.password_grant(password="not-it")
        assert wrong.status_code == 400 and wrong.json()["error_code"] == "invalid_credentials"
        assert [(p["user_id"], p["valid"], p["metadata"]["name"]) for p in hook.payloads] == [
            (user["id"], True, "password-verification"), (user["id"], False, "password-verification")
        ]  # fmt: skip

        hook.replies = [Reply(200, {"decision": "reject", "message": "Locked: too many attempts", "should_logout_user": True})]
        sessions = (await api.counts())["sessions"]
        assert sessions >= 2
        refused = await api.password_grant()
        assert refused.status_code == 400 and refused.json()["error_code"] == "invalid_credentials"
        assert refused.json()["msg"] == "Locked: too many attempts"
        assert (await api.counts())["sessions"] == 0  # logged out everywhere

        hook.replies = [Reply(200, {"decision": "reject"})]
        default = await api.password_grant()
        assert default.json()["msg"] == "Further password verification attempts will be rejected."

        hook.replies = [Reply(200, {"error": {"http_code": 503, "message": "hook is down"}})]
        before = await api.counts()
        failed = await api.password_grant()
        assert failed.status_code == 503 and failed.json()["msg"] == "hook is down"
        assert await api.counts() == before


async def test_the_mfa_hook_may_reject_a_verification_and_logs_the_user_out(make_api: Any) -> None:
    with receiver() as hook:
        api = await make_api(_env(hook, "mfa_verification_attempt"))
        session = (await api.signup()).json()
        token = session["access_token"]
        enrolled = (await _enroll(api, token)).json()
        secret = enrolled["totp"]["secret"]
        challenge = (await _challenge(api, token, enrolled["id"])).json()
        wrong = await _verify(api, token, enrolled["id"], challenge["id"], "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        assert wrong.status_code == 422 and wrong.json()["error_code"] == "mfa_verification_failed"
        [attempt] = hook.payloads
        assert attempt["factor_id"] == enrolled["id"] and attempt["factor_type"] == "totp" and attempt["valid"] is False
        assert attempt["metadata"]["name"] == "mfa-verification"
        assert attempt["user_id"] == session["user"]["id"] and attempt["metadata"]["ip_address"] == IP["X-Forwarded-For"]

        hook.replies = [Reply(200, {"decision": "reject", "message": "Verification blocked"})]
        refused = await _verify(api, token, enrolled["id"], challenge["id"], pyotp.TOTP(secret).now())
        assert refused.status_code == 403 and refused.json()["error_code"] == "mfa_verification_rejected"
        assert refused.json()["msg"] == "Verification blocked"
        assert hook.payloads[-1]["valid"] is True
        assert (await api.counts())["sessions"] == 0
        assert (await api.refresh(session["refresh_token"])).status_code == 400

        # a fresh session, and the hook lets it through
        hook.replies = [Reply(200, {"decision": "continue"})]
        fresh = (await api.password_grant()).json()["access_token"]
        again = (await _challenge(api, fresh, enrolled["id"])).json()
        ok = await _verify(api, fresh, enrolled["id"], again["id"], pyotp.TOTP(secret).now())
        assert ok.status_code == 200, ok.text
        assert claims(ok.json()["access_token"])["aal"] == "aal2"
