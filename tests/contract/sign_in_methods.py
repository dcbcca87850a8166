"""`aal` and `amr` for every way of signing in (tokens.md "Which AMR method a login records"), on
either storage: each sign-in's access token says `aal1` and names, first, the method GoTrue records
for it (models.AuthenticationMethod): `password`; `otp` for every /verify, link or code, in the
implicit flow; the type of the link (`email/signup`, `magiclink`, `recovery`) when a PKCE code is
exchanged; `oauth` for the callback and the id_token grant; `anonymous`. A refresh keeps the
method of the sign-in (`token_refresh` is never recorded)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from contract.email_flows import CHALLENGE, CONFIRM, VERIFIER, confirmed_user, follow, fragment, query
from contract.id_token_grant import HASHED_NONCE, RAW_NONCE, google_api, grant, oidc
from contract.oauth_flows import _authorize, github, github_api
from contract.phone_flows import PHONE, twilio_env
from support.oauth_providers import CODE, query_of, unverified_claims
from support.sms_providers import TwilioApi

PASSWORD = "s3cret-pass"
PKCE = {"code_challenge": CHALLENGE, "code_challenge_method": "s256"}


async def _password(make_api: Any) -> str:
    api = await make_api()
    await api.signup("pw@example.com", PASSWORD)
    response = await api.password_grant("pw@example.com", PASSWORD)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _signup_link(make_api: Any) -> str:
    api = await make_api(CONFIRM)
    return str((await confirmed_user(api, "link@example.com"))["access_token"])


async def _email_otp(make_api: Any) -> str:
    api = await make_api()
    assert (await api.client.post("/otp", json={"email": "code@example.com"}, headers=api.headers())).status_code == 200
    otp = api.mail("code@example.com").otp
    verified = await api.client.post("/verify", json={"type": "email", "email": "code@example.com", "token": otp}, headers=api.headers())
    assert verified.status_code == 200, verified.text
    return str(verified.json()["access_token"])


async def _phone_otp(make_api: Any) -> str:
    with TwilioApi() as twilio:
        api = await make_api(twilio_env(twilio, GOTRUE_SMS_TEST_OTP=f"{PHONE}:424242"))
        assert (await api.client.post("/otp", json={"phone": PHONE}, headers=api.headers())).status_code == 200
        verified = await api.client.post("/verify", json={"type": "sms", "phone": PHONE, "token": "424242"}, headers=api.headers())
    assert verified.status_code == 200, verified.text
    return str(verified.json()["access_token"])


async def _magic_link(make_api: Any) -> str:
    api = await make_api(CONFIRM)
    await confirmed_user(api, "magic@example.com")
    await api.client.post("/magiclink", json={"email": "magic@example.com"}, headers=api.headers())
    response = await follow(api, api.mail("magic@example.com", "magic_link").link)
    return fragment(response.headers["location"])["access_token"]


async def _recovery(make_api: Any) -> str:
    api = await make_api(CONFIRM)
    await confirmed_user(api, "forgot@example.com")
    await api.client.post("/recover", json={"email": "forgot@example.com"}, headers=api.headers())
    response = await follow(api, api.mail("forgot@example.com", "recovery").link)
    return fragment(response.headers["location"])["access_token"]


async def _invite(make_api: Any) -> str:
    api = await make_api(CONFIRM)
    assert (await api.client.post("/invite", json={"email": "guest@example.com"}, headers=api.admin())).status_code == 200
    response = await follow(api, api.mail("guest@example.com", "invite").link)
    return fragment(response.headers["location"])["access_token"]


async def _pkce_exchange(api: Any, location: str) -> str:
    code = query(location)["code"]
    token = await api.client.post("/token?grant_type=pkce", json={"auth_code": code, "code_verifier": VERIFIER}, headers=api.headers())
    assert token.status_code == 200, token.text
    return str(token.json()["access_token"])


async def _signup_link_pkce(make_api: Any) -> str:
    api = await make_api(CONFIRM)
    await api.signup("pkce-link@example.com", PASSWORD, **PKCE)
    response = await follow(api, api.mail("pkce-link@example.com", "confirmation").link)
    return await _pkce_exchange(api, response.headers["location"])


async def _magic_link_pkce(make_api: Any) -> str:
    api = await make_api(CONFIRM)
    await confirmed_user(api, "pkce-magic@example.com")
    await api.client.post("/magiclink", json={"email": "pkce-magic@example.com", **PKCE}, headers=api.headers())
    response = await follow(api, api.mail("pkce-magic@example.com", "magic_link").link)
    return await _pkce_exchange(api, response.headers["location"])


async def _recovery_pkce(make_api: Any) -> str:
    api = await make_api(CONFIRM)
    await confirmed_user(api, "pkce-forgot@example.com")
    await api.client.post("/recover", json={"email": "pkce-forgot@example.com", **PKCE}, headers=api.headers())
    response = await follow(api, api.mail("pkce-forgot@example.com", "recovery").link)
    return await _pkce_exchange(api, response.headers["location"])


async def _oauth(make_api: Any) -> str:
    with github() as fake:
        api = await github_api(make_api, fake)
        state = query_of((await _authorize(api, "github")).headers["location"])["state"]
        callback = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
    return fragment(callback.headers["location"])["access_token"]


async def _oauth_pkce(make_api: Any) -> str:
    with github() as fake:
        api = await github_api(make_api, fake)
        authorize = await _authorize(api, "github", redirect_to="http://app.example.com/cb", **PKCE)
        state = query_of(authorize.headers["location"])["state"]
        callback = await api.client.get("/callback", params={"code": CODE, "state": state}, follow_redirects=False)
        return await _pkce_exchange(api, callback.headers["location"])


async def _id_token(make_api: Any) -> str:
    with oidc() as fake:
        api = await google_api(make_api, fake)
        response = await grant(api, fake.sign(fake.claims(nonce=HASHED_NONCE)), nonce=RAW_NONCE)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _anonymous(make_api: Any) -> str:
    api = await make_api({"GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": "true"})
    response = await api.client.post("/signup", json={}, headers=api.headers())
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _refresh(make_api: Any) -> str:
    api = await make_api()
    await api.signup("again@example.com", PASSWORD)
    signed_in = (await api.password_grant("again@example.com", PASSWORD)).json()
    refreshed = await api.refresh(signed_in["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    return str(refreshed.json()["access_token"])


SignIn = Callable[[Any], Awaitable[str]]
SIGN_INS: list[tuple[str, SignIn, str]] = [
    ("password", _password, "password"),
    ("email signup confirmation link", _signup_link, "otp"),
    ("email signup confirmation link, pkce", _signup_link_pkce, "email/signup"),
    ("email otp", _email_otp, "otp"),
    ("phone otp", _phone_otp, "otp"),
    ("magic link", _magic_link, "otp"),
    ("magic link, pkce", _magic_link_pkce, "magiclink"),
    ("recovery", _recovery, "otp"),
    ("recovery, pkce", _recovery_pkce, "recovery"),
    ("invite", _invite, "otp"),
    ("oauth", _oauth, "oauth"),
    ("oauth, pkce", _oauth_pkce, "oauth"),
    ("id_token", _id_token, "oauth"),
    ("anonymous", _anonymous, "anonymous"),
    ("refresh", _refresh, "password"),
]


@pytest.mark.parametrize(("sign_in", "method"), [(s, m) for _, s, m in SIGN_INS], ids=[name for name, _, _ in SIGN_INS])
async def test_each_sign_in_method_gives_aal1_and_its_amr_method(make_api: Any, sign_in: SignIn, method: str) -> None:
    claims = unverified_claims(await sign_in(make_api))
    assert claims["aal"] == "aal1"
    assert [entry["method"] for entry in claims["amr"]] == [method], claims["amr"]
    assert isinstance(claims["amr"][0]["timestamp"], int)
