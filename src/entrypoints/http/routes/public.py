"""Routes anyone may call: health, settings, the JWKS."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from pytrue.application.config import Settings
from pytrue.entrypoints.http.requests import json_response

VERSION = "pytrue-0.1.0"


@get("/health", sync_to_thread=False)
def health() -> Response[bytes]:
    return json_response(
        {"version": VERSION, "name": "GoTrue", "description": "GoTrue is a user registration and authentication API"}
    )


@get("/settings", sync_to_thread=False)
def settings(request: Request[Any, Any, Any]) -> Response[bytes]:
    config: Settings = request.app.state.settings
    # GoTrue's keys; linkedin and slack are its deprecated providers, which pytrue does not offer
    providers = dict.fromkeys(
        (
            "apple azure bitbucket discord facebook snapchat figma fly github gitlab google keycloak kakao "
            "linkedin linkedin_oidc notion spotify slack slack_oidc workos twitch twitter zoom"
        ).split(),
        False,
    )
    for name in config.external.provider_names:
        if name in providers:
            providers[name] = config.external.provider(name).enabled  # type: ignore[union-attr]
    external: dict[str, bool] = {
        "anonymous_users": config.external.anonymous_users.enabled,
        **providers,
        "email": config.external.email.enabled,
        "phone": config.external.phone.enabled,
    }
    return json_response(
        {
            "external": external,
            "disable_signup": config.site.disable_signup,
            "mailer_autoconfirm": config.mailer.autoconfirm,
            "phone_autoconfirm": config.sms.autoconfirm,
            "sms_provider": config.sms.provider,
            "saml_enabled": False,
            "saml_private_key_next_configured": False,
            "passkeys_enabled": False,
        }
    )


@get("/.well-known/jwks.json", sync_to_thread=False)
def jwks(request: Request[Any, Any, Any]) -> Response[bytes]:
    return json_response(request.app.state.jwks, headers={"Cache-Control": "public, max-age=600"})
