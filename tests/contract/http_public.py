"""GET /health, GET /settings, GET /.well-known/jwks.json (api.md §1, §2, §16), on either storage."""

from __future__ import annotations

import json
from typing import Any

from joserfc.jwk import RSAKey

EXTERNAL_PROVIDERS = (
    "anonymous_users apple azure bitbucket discord facebook snapchat figma fly github gitlab google "
    "keycloak kakao linkedin linkedin_oidc notion spotify slack slack_oidc workos twitch twitter "
    "email phone zoom"
).split()


async def test_health_names_gotrue(api: Any) -> None:
    response = await api.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"version", "name", "description"}
    assert body["name"] == "GoTrue"
    assert body["description"] == "GoTrue is a user registration and authentication API"


async def test_settings_shape_with_defaults(make_api: Any) -> None:
    api = await make_api({"GOTRUE_MAILER_AUTOCONFIRM": "false"})
    response = await api.client.get("/settings")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "external",
        "disable_signup",
        "mailer_autoconfirm",
        "phone_autoconfirm",
        "sms_provider",
        "saml_enabled",
        "saml_private_key_next_configured",
        "passkeys_enabled",
    }
    assert set(body["external"]) == set(EXTERNAL_PROVIDERS)
    assert body["external"]["email"] is True
    assert body["external"]["phone"] is False
    assert body["external"]["anonymous_users"] is False
    assert body["disable_signup"] is False
    assert body["mailer_autoconfirm"] is False
    assert body["phone_autoconfirm"] is False
    assert body["sms_provider"] == ""  # GOTRUE_SMS_PROVIDER as configured, empty when unset


async def test_settings_reflect_configuration(make_api: Any) -> None:
    api = await make_api(
        {
            "GOTRUE_DISABLE_SIGNUP": "true",
            "GOTRUE_MAILER_AUTOCONFIRM": "true",
            "GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED": "true",
            "GOTRUE_EXTERNAL_EMAIL_ENABLED": "false",
            "GOTRUE_SMS_PROVIDER": "vonage",
            "GOTRUE_SMS_VONAGE_API_KEY": "key",
            "GOTRUE_SMS_VONAGE_API_SECRET": "secret",
            "GOTRUE_SMS_VONAGE_FROM": "pytrue",
        }
    )
    body = (await api.client.get("/settings")).json()
    assert body["sms_provider"] == "vonage"
    assert body["disable_signup"] is True
    assert body["mailer_autoconfirm"] is True
    assert body["external"]["anonymous_users"] is True
    assert body["external"]["email"] is False


async def test_settings_report_each_enabled_provider_and_only_those(make_api: Any) -> None:
    callback = "http://localhost:9999/callback"
    api = await make_api(
        {
            "GOTRUE_EXTERNAL_GITHUB_ENABLED": "true",
            "GOTRUE_EXTERNAL_GITHUB_CLIENT_ID": "gh-client",
            "GOTRUE_EXTERNAL_GITHUB_SECRET": "gh-secret",
            "GOTRUE_EXTERNAL_GITHUB_REDIRECT_URI": callback,
            "GOTRUE_EXTERNAL_KEYCLOAK_ENABLED": "true",
            "GOTRUE_EXTERNAL_KEYCLOAK_CLIENT_ID": "kc-client",
            "GOTRUE_EXTERNAL_KEYCLOAK_SECRET": "kc-secret",
            "GOTRUE_EXTERNAL_KEYCLOAK_REDIRECT_URI": callback,
            "GOTRUE_EXTERNAL_KEYCLOAK_URL": "https://sso.example.com/realms/app",
        }
    )
    external = (await api.client.get("/settings")).json()["external"]
    assert set(external) == set(EXTERNAL_PROVIDERS)
    assert external["github"] is True
    assert external["keycloak"] is True
    assert external["email"] is True  # the default
    others = {name: external[name] for name in EXTERNAL_PROVIDERS if name not in ("github", "keycloak", "email")}
    assert others == dict.fromkeys(others, False)


async def test_jwks_is_empty_for_hs256_only(api: Any) -> None:
    response = await api.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json() == {"keys": []}
    assert response.headers["cache-control"] == "public, max-age=600"


async def test_jwks_publishes_only_the_public_part_of_an_rs256_key(make_api: Any) -> None:
    private = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "alg": "RS256"}, private=True)
    jwk = private.as_dict(private=True)
    jwk.update({"kid": "rsa-1", "alg": "RS256", "use": "sig", "key_ops": ["sign", "verify"]})
    api = await make_api({"GOTRUE_JWT_KEYS": json.dumps([jwk])})
    response = await api.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=600"
    keys = response.json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kty"] == "RSA" and key["kid"] == "rsa-1" and key["alg"] == "RS256"
    assert key["use"] == "sig" and key["key_ops"] == ["verify"]
    assert key["n"] == jwk["n"] and key["e"] == jwk["e"]
    for private_member in ("d", "p", "q", "dp", "dq", "qi"):
        assert private_member not in key
