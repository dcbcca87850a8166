"""POST /signup over HTTP: success paths and every refusal of api.md §3 (storage untouched on refusal)."""

from __future__ import annotations

from typing import Any

import pytest
from support.http import V2024, without_audit


async def post_signup(api: Any, body: Any = None, *, content: bytes | None = None, **headers: str) -> Any:
    if content is not None:
        return await api.client.post("/signup", content=content, headers=api.headers(**headers))
    return await api.client.post("/signup", json=body, headers=api.headers(**headers))


def assert_legacy_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status
    assert body["error_code"] == code
    assert isinstance(body["msg"], str) and body["msg"]
    assert response.headers["x-sb-error-code"] == code
    assert "x-supabase-api-version" not in response.headers
    return body


def assert_2024_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert "error_code" not in body and "msg" not in body
    assert response.headers["x-supabase-api-version"] == "2024-01-01"
    assert response.headers["x-sb-error-code"] == code
    return body


async def refused(api: Any, body: Any, status: int, code: str, **env_headers: str) -> dict[str, Any]:
    """Send the body in both shapes; check the error and that nothing was written."""
    before = await api.counts()
    legacy = assert_legacy_error(await post_signup(api, body), status, code)
    modern = assert_2024_error(await post_signup(api, body, **V2024), status, code)
    assert legacy["msg"] == modern["message"]
    assert await api.counts() == before
    return legacy


# --- success paths ---------------------------------------------------------------------


async def test_signup_without_autoconfirm_returns_user_and_stores_confirmation(make_api: Any) -> None:
    api = await make_api({"GOTRUE_MAILER_AUTOCONFIRM": "false"})
    response = await api.signup("new@example.com")
    assert response.status_code == 200
    body = response.json()
    assert "access_token" not in body and "refresh_token" not in body
    assert body["email"] == "new@example.com"
    assert "confirmation_sent_at" in body
    assert "email_confirmed_at" not in body
    assert len(body["identities"]) == 1
    user = await api.user()
    assert user["id"] == body["id"]
    assert user["confirmation_token"]
    counts = await api.counts()
    assert counts["sessions"] == 0 and counts["refresh_tokens"] == 0
    assert counts["one_time_tokens"] == 1
    assert "user_confirmation_requested" in await api.audit_actions()


async def test_repeated_signup_of_confirmed_email_is_obfuscated_without_autoconfirm(make_api: Any) -> None:
    api = await make_api({"GOTRUE_MAILER_AUTOCONFIRM": "false"})
    admin = await api.client.post(
        "/admin/users",
        json={"email": "taken@example.com", "password": "s3cret-pass", "email_confirm": True},
        headers=api.admin(),
    )
    assert admin.status_code == 200
    real_id = admin.json()["id"]
    before = await api.counts()
    response = await api.signup("taken@example.com", "another-pass", data={"k": "v"})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] != real_id
    assert body["identities"] == []
    assert body["email"] == "taken@example.com"
    assert body["user_metadata"] == {"k": "v"}
    assert body["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert "access_token" not in body
    assert without_audit(await api.counts()) == without_audit(before)
    assert [user["id"] for user in await api.users()] == [real_id]


async def test_repeated_signup_with_autoconfirm_is_user_already_exists(api: Any) -> None:
    assert (await api.signup()).status_code == 200
    before = await api.counts()
    response = await api.signup()
    assert_legacy_error(response, 422, "user_already_exists")
    assert without_audit(await api.counts()) == without_audit(before)


async def test_unknown_fields_are_ignored_and_nulls_are_absent(api: Any) -> None:
    body = {
        "email": "nulls@example.com",
        "password": "s3cret-pass",
        "phone": None,
        "data": None,
        "code_challenge": None,
        "code_challenge_method": None,
        "gotrue_meta_security": {"captcha_token": "x"},
        "whatever": [1, 2, 3],
    }
    response = await post_signup(api, body)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == "nulls@example.com"


# --- refusals ---------------------------------------------------------------------------


async def test_signup_disabled(make_api: Any) -> None:
    api = await make_api({"GOTRUE_DISABLE_SIGNUP": "true"})
    await refused(api, {"email": "a@example.com", "password": "s3cret-pass"}, 422, "signup_disabled")


async def test_empty_password(api: Any) -> None:
    body = await refused(api, {"email": "a@example.com", "password": ""}, 400, "validation_failed")
    assert body["msg"] == "Signup requires a valid password"
    await refused(api, {"email": "a@example.com"}, 400, "validation_failed")


async def test_weak_password_carries_reasons_in_both_shapes(api: Any) -> None:
    before = await api.counts()
    body = {"email": "a@example.com", "password": "abc"}
    legacy = await post_signup(api, body)
    assert_legacy_error(legacy, 422, "weak_password")
    assert legacy.json()["weak_password"] == {"reasons": ["length"]}
    modern = await post_signup(api, body, **V2024)
    assert_2024_error(modern, 422, "weak_password")
    assert modern.json()["weak_password"] == {"reasons": ["length"]}
    assert await api.counts() == before


async def test_password_longer_than_72_bytes(api: Any) -> None:
    await refused(api, {"email": "a@example.com", "password": "é" * 37}, 400, "validation_failed")


async def test_invalid_email(api: Any) -> None:
    await refused(api, {"email": "not-an-email", "password": "s3cret-pass"}, 400, "validation_failed")


async def test_both_email_and_phone(api: Any) -> None:
    await refused(
        api, {"email": "a@example.com", "phone": "+15555550100", "password": "s3cret-pass"}, 400, "validation_failed"
    )


async def test_email_provider_disabled(make_api: Any) -> None:
    api = await make_api({"GOTRUE_EXTERNAL_EMAIL_ENABLED": "false"})
    body = await refused(api, {"email": "a@example.com", "password": "s3cret-pass"}, 400, "email_provider_disabled")
    assert body["msg"] == "Email signups are disabled"


async def test_phone_provider_disabled_by_default(api: Any) -> None:
    await refused(api, {"phone": "+15555550100", "password": "s3cret-pass"}, 400, "phone_provider_disabled")


async def test_anonymous_signup_disabled_by_default(api: Any) -> None:
    body = await refused(api, {}, 422, "anonymous_provider_disabled")
    assert body["msg"] == "Anonymous sign-ins are disabled"


async def test_anonymous_signup_when_enabled(make_api: Any) -> None:
    api = await make_api({"GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": "true"})
    response = await post_signup(api, {"data": {"a": 1}})
    assert response.status_code == 200
    user = response.json()["user"]
    assert user["is_anonymous"] is True
    assert user["app_metadata"] == {}
    assert user["identities"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"email": 5, "password": "s3cret-pass"},
        {"email": "a@example.com", "password": 123456},
        {"email": "a@example.com", "password": "s3cret-pass", "data": "not-an-object"},
        ["a", "list"],
    ],
)
async def test_wrong_types_are_bad_json(api: Any, body: Any) -> None:
    await refused(api, body, 400, "bad_json")


async def test_malformed_json_is_bad_json(api: Any) -> None:
    before = await api.counts()
    response = await post_signup(api, content=b'{"email": ')
    assert_legacy_error(response, 400, "bad_json")
    assert response.json()["msg"].startswith("Could not parse request body as JSON")
    assert await api.counts() == before


async def test_empty_body_is_treated_as_empty_object(api: Any) -> None:
    # `{}` means an anonymous sign-in, which is disabled by default.
    before = await api.counts()
    response = await post_signup(api, content=b"")
    assert_legacy_error(response, 422, "anonymous_provider_disabled")
    assert await api.counts() == before


async def test_body_over_one_mebibyte_is_413(api: Any) -> None:
    before = await api.counts()
    padding = "x" * (1024 * 1024 + 10)
    content = ('{"email": "a@example.com", "password": "s3cret-pass", "data": {"p": "' + padding + '"}}').encode()
    response = await post_signup(api, content=content)
    assert_legacy_error(response, 413, "request_entity_too_large")
    modern = await post_signup(api, content=content, **V2024)
    assert_2024_error(modern, 413, "request_entity_too_large")
    assert await api.counts() == before


# --- channel and PKCE validation (api.md §3.2 steps 5–7) -----------------------------------



async def test_pkce_needs_both_challenge_and_method(api: Any) -> None:
    await refused(
        api,
        {"email": "a@example.com", "password": "s3cret-pass", "code_challenge": "a" * 43},
        400,
        "validation_failed",
    )


async def test_pkce_challenge_must_be_43_to_128_safe_chars(api: Any) -> None:
    await refused(
        api,
        {"email": "a@example.com", "password": "s3cret-pass", "code_challenge": "short", "code_challenge_method": "s256"},
        400,
        "validation_failed",
    )


async def test_bad_channel(make_api: Any) -> None:
    api = await make_api({"GOTRUE_EXTERNAL_PHONE_ENABLED": "true", "GOTRUE_SMS_AUTOCONFIRM": "true"})
    await refused(
        api, {"phone": "+15555550100", "password": "s3cret-pass", "channel": "pigeon"}, 400, "validation_failed"
    )


# --- phone -------------------------------------------------------------------------------


async def test_phone_signup_with_sms_autoconfirm_returns_a_session(make_api: Any) -> None:
    api = await make_api({"GOTRUE_EXTERNAL_PHONE_ENABLED": "true", "GOTRUE_SMS_AUTOCONFIRM": "true"})
    response = await post_signup(api, {"phone": "+1 555 555 0100", "password": "s3cret-pass"})
    assert response.status_code == 200, response.text
    user = response.json()["user"]
    assert user["phone"] == "15555550100"
    assert user["app_metadata"] == {"provider": "phone", "providers": ["phone"]}
    assert "phone_confirmed_at" in user


async def test_phone_signup_without_sms_provider_texts_the_development_outbox(make_api: Any) -> None:
    api = await make_api({"GOTRUE_EXTERNAL_PHONE_ENABLED": "true"})
    response = await post_signup(api, {"phone": "+15555550100", "password": "s3cret-pass"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["phone"] == "15555550100" and body["confirmation_sent_at"] and "message_id" not in body
    sms = api.container.core.dev_sms_outbox().latest("15555550100")
    assert sms is not None and sms.message == f"Your code is {sms.otp}" and len(sms.otp) == 6


async def test_invalid_phone(make_api: Any) -> None:
    api = await make_api({"GOTRUE_EXTERNAL_PHONE_ENABLED": "true", "GOTRUE_SMS_AUTOCONFIRM": "true"})
    await refused(api, {"phone": "+1 (555) 555-0100", "password": "s3cret-pass"}, 400, "validation_failed")
