"""The Litestar application: routes, error handling, CORS, and use cases provided by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Litestar
from litestar.di import Provide

from pytrue.entrypoints import containers, observability
from pytrue.entrypoints.containers import Application
from pytrue.entrypoints.http.cleanup import BackgroundCleanup, cleanup_middleware_factory
from pytrue.entrypoints.http.cors import cors_middleware_factory
from pytrue.entrypoints.http.errors import EXCEPTION_HANDLERS
from pytrue.entrypoints.http.limits import IpLimits
from pytrue.entrypoints.http.request_log import wrap as log_requests
from pytrue.entrypoints.http.requests import refuse_nul_in_query
from pytrue.entrypoints.http.openapi import openapi_json
from pytrue.entrypoints.http.routes import admin, auth, email, external, mfa, public, user

MAX_BODY_BYTES = 1024 * 1024

USE_CASES = {
    "sign_up": "sign_up",
    "sign_in_with_password": "sign_in_with_password",
    "refresh_token_grant": "refresh_token_grant",
    "authenticate_user": "authenticate_user",
    "authorize_admin": "authorize_admin",
    "update_user_use_case": "update_user",
    "logout_use_case": "logout",
    "list_sessions_use_case": "list_sessions",
    "revoke_session_use_case": "revoke_session",
    "admin_list_sessions": "admin_list_sessions",
    "admin_revoke_sessions": "admin_revoke_sessions",
    "admin_list_users": "admin_list_users",
    "admin_audit_log": "admin_audit_log",
    "admin_create_user": "admin_create_user",
    "admin_get_user": "admin_get_user",
    "admin_update_user": "admin_update_user",
    "admin_delete_user": "admin_delete_user",
    "verify": "verify",
    "pkce_grant": "pkce_grant",
    "id_token_grant": "id_token_grant",
    "captcha_gate": "captcha_gate",
    "unlink_identity": "unlink_identity",
    "enroll_factor": "enroll_factor",
    "challenge_factor": "challenge_factor",
    "verify_factor": "verify_factor",
    "unenroll_factor": "unenroll_factor",
    "admin_list_factors": "admin_list_factors",
    "admin_update_factor": "admin_update_factor",
    "admin_delete_factor": "admin_delete_factor",
    "authorize_external": "authorize_external",
    "external_callback": "external_callback",
    "send_otp": "send_otp",
    "send_magic_link": "send_magic_link",
    "recover_password": "recover_password",
    "resend_use_case": "resend",
    "reauthenticate_use_case": "reauthenticate",
    "invite_user": "invite_user",
    "generate_link_use_case": "generate_link",
}

ROUTES = [
    public.health,
    public.settings,
    public.jwks,
    auth.signup,
    auth.token,
    user.get_user,
    user.update_user,
    user.logout,
    user.list_sessions,
    user.revoke_session,
    admin.list_users,
    admin.audit_log,
    admin.create_user,
    admin.get_user,
    admin.update_user,
    admin.delete_user,
    admin.list_user_sessions,
    admin.revoke_user_sessions,
    admin.revoke_user_session,
    email.verify_post,
    email.verify_get,
    email.otp,
    email.magiclink,
    email.recover,
    email.resend,
    email.reauthenticate,
    email.invite,
    email.generate_link,
    external.authorize,
    external.callback,
    external.link_identity,
    external.unlink_identity,
    mfa.enroll,
    mfa.challenge,
    mfa.verify,
    mfa.unenroll,
    admin.list_factors,
    admin.update_factor,
    admin.delete_factor,
    openapi_json,
]


def _constant(value: Any) -> Provide:
    def provide() -> Any:
        return value

    return Provide(provide, use_cache=True, sync_to_thread=False)


def create_app(container: Application, *, after_shutdown: Callable[[], None] | None = None) -> Litestar:
    """Build the HTTP app over a wired container; lifecycle hooks open and close its resources."""
    settings = container.settings()
    use_cases = container.use_cases
    provided: dict[str, Any] = {name: getattr(use_cases, provider)() for name, provider in USE_CASES.items()}
    provided["settings"] = settings
    provided["links"] = container.core.links()
    dependencies = {name: _constant(value) for name, value in provided.items()}
    cleanup = BackgroundCleanup(container.use_cases.clean_stale_rows().step) if settings.db.cleanup_enabled else None
    middleware: list[Any] = [cors_middleware_factory(settings.cors.allowed_headers)]
    if cleanup is not None:
        middleware.append(cleanup_middleware_factory(cleanup))

    async def startup() -> None:
        await containers.start(container)

    async def shutdown() -> None:
        try:
            if cleanup is not None:
                await cleanup.drain()
            await containers.stop(container)
        finally:
            if after_shutdown is not None:
                after_shutdown()

    app = Litestar(
        route_handlers=ROUTES,
        dependencies=dependencies,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=middleware,
        before_request=refuse_nul_in_query,
        request_max_body_size=MAX_BODY_BYTES,
        on_startup=[startup],
        on_shutdown=[shutdown],
        state=_state(container, settings.api.request_id_header, provided),
        openapi_config=None,
        logging_config=None,  # Litestar would replace the root handlers: logging is pytrue's (entrypoints/json_logs.py)
        debug=False,
    )
    app.state.cleanup = cleanup  # None when GOTRUE_DB_CLEANUP_ENABLED is off
    # around Litestar's exception handling too, so 404s and 405s get their line (docs/adr/0029)
    app.asgi_handler = log_requests(app.asgi_handler, settings.api.request_id_header, settings.site.redirects)
    observability.install(app, container)  # metrics and tracing, only when enabled (docs/adr/0030)
    return app


def _state(container: Application, request_id_header: str, provided: dict[str, Any]) -> Any:
    from litestar.datastructures import State

    return State(
        {
            "provided": provided,
            "settings": provided["settings"],
            "jwks": container.core.key_set().public_jwks(),
            "request_id_header": request_id_header,
            "ip_limits": IpLimits.from_settings(
                container.settings(), container.adapters.rate_limiter(), container.core.clock()
            ),
        }
    )
