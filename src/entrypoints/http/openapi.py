"""pytrue's OpenAPI 3.1 document, served at `GET /openapi.json` (docs/adr/0018).

Litestar generates the skeleton from the registered routes (paths, methods, path parameters), so
a new route appears without being listed; the handlers read their bodies by hand, so request
bodies (the msgspec structs of `schemas.py`), query parameters, security and GoTrue's responses
and error shapes come from `OPERATIONS`. A route missing from `OPERATIONS` fails the build.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgspec
from litestar import Response, get

from pytrue.entrypoints.http import schemas
from pytrue.entrypoints.http.errors import API_VERSION_2024

PATH = "/openapi.json"
REF = "#/components/schemas/{name}"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False
    where: str = "query"


@dataclass(frozen=True, slots=True)
class Op:
    summary: str
    ok: tuple[int, str, str | None]  # status, description, component schema (None: no body)
    errors: tuple[int, ...] = (400, 500)
    body: tuple[type, ...] = ()
    form: bool = False
    params: tuple[Param, ...] = ()
    auth: str = "none"  # "none", "user" (a user's access token) or "admin" (a service_role token)


REDIRECT_TO = Param("redirect_to", "Where emailed links lead; must match GOTRUE_SITE_URL or GOTRUE_URI_ALLOW_LIST")
PAGE = Param("page", "Page number, 1 to 2147483647 (default 1)", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1})
PER_PAGE = Param(
    "per_page",
    "Users per page, 1 to 1000 (default 50; pytrue's cap, GoTrue has none)",
    {"type": "integer", "minimum": 1, "maximum": 1000},
)
FACTOR_ID = Param("factor_id", "The factor's id", {"type": "string", "format": "uuid"}, required=True, where="path")
USER_ID = Param("user_id", "The user's id", {"type": "string", "format": "uuid"}, required=True, where="path")
SESSION_ID = Param("session_id", "The session's id", {"type": "string", "format": "uuid"}, required=True, where="path")
GRANT_TYPE = Param(
    "grant_type",
    "password, refresh_token, pkce or id_token (a form body may carry it instead)",
    {"type": "string", "enum": ["password", "refresh_token", "pkce", "id_token"]},
)
SIGNED_IN = (200, "A session", "Session")
USER = (200, "The user", "User")
EMPTY = (200, "Done", "Empty")
SENT = (200, "Sent (`message_id` is `test-otp` for a test number's text)", "CodeSent")
LIMITED = (400, 422, 429, 500)

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/health"): Op("Liveness and version", (200, "Healthy", "Health"), errors=(500,)),
    ("GET", "/settings"): Op("Public settings: enabled providers, sign-up", (200, "Settings", "Settings"), errors=(500,)),
    ("GET", "/.well-known/jwks.json"): Op("Public keys verifying access tokens", (200, "A JWK set", "Jwks"), errors=(500,)),
    ("GET", PATH): Op("This document", (200, "OpenAPI 3.1", None), errors=(500,)),
    ("POST", "/signup"): Op(
        "Sign up with email or phone and a password; anonymously with no body",
        (200, "A session, or the unconfirmed user when confirmation is required", "SessionOrUser"),
        errors=LIMITED,
        body=(schemas.SignUpBody,),
        params=(REDIRECT_TO,),
    ),
    ("POST", "/token"): Op(
        "Issue a session: password, refresh_token, pkce or id_token grant",
        SIGNED_IN,
        errors=(400, 401, 403, 404, 422, 429, 500, 503),
        body=(schemas.PasswordGrantBody, schemas.RefreshGrantBody, schemas.PkceGrantBody, schemas.IdTokenGrantBody),
        form=True,
        params=(GRANT_TYPE,),
    ),
    ("GET", "/user"): Op("The signed-in user", USER, errors=(400, 401, 403, 500), auth="user"),
    ("PUT", "/user"): Op(
        "Update the signed-in user: password, email, phone, metadata",
        USER,
        errors=(400, 401, 403, 422, 429, 500),
        body=(schemas.UpdateUserBody,),
        params=(REDIRECT_TO,),
        auth="user",
    ),
    ("POST", "/logout"): Op(
        "Sign out",
        (204, "Signed out", None),
        errors=(400, 401, 403, 500),
        params=(Param("scope", "global (default), local or others", {"type": "string", "enum": ["global", "local", "others"]}),),
        auth="user",
    ),
    ("GET", "/reauthenticate"): Op(
        "Send a reauthentication code to the signed-in user", SENT, errors=(400, 401, 403, 422, 429, 500), auth="user"
    ),
    ("GET", "/authorize"): Op(
        "Start signing in with an external provider: redirects to the provider",
        (302, "Redirect to the provider's authorization URL", None),
        errors=(400, 404, 500),
        params=(
            Param("provider", "github, google, apple, … (GOTRUE_EXTERNAL_<P>_ENABLED)", required=True),
            Param("scopes", "Extra scopes"),
            Param("redirect_to", "Where /callback leads; must match GOTRUE_SITE_URL or GOTRUE_URI_ALLOW_LIST"),
            Param("code_challenge", "PKCE challenge"),
            Param("code_challenge_method", "s256 or plain"),
        ),
    ),
    ("GET", "/callback"): Op(
        "The provider's redirect back: redirects with a session, a PKCE code or an error",
        (302, "Redirect to redirect_to (or GOTRUE_SITE_URL)", None),
        errors=(500,),
        params=(Param("state", "The flow state id /authorize sent"), Param("code", "The provider's code")),
    ),
    ("POST", "/callback"): Op(
        "The provider's form_post back (Apple): redirects with a session, a PKCE code or an error",
        (302, "Redirect to redirect_to (or GOTRUE_SITE_URL)", None),
        errors=(500,),
        form=True,
    ),
    ("GET", "/user/identities/authorize"): Op(
        "Link an external identity to the signed-in user (GOTRUE_SECURITY_MANUAL_LINKING_ENABLED): "
        "redirects to the provider, or with skip_http_redirect=true answers {url}",
        (302, "Redirect to the provider's authorization URL", None),
        errors=(400, 401, 403, 404, 500),
        params=(
            Param("provider", "github, google, apple, …", required=True),
            Param("scopes", "Extra scopes"),
            Param("redirect_to", "Where /callback leads; must match GOTRUE_SITE_URL or GOTRUE_URI_ALLOW_LIST"),
            Param("code_challenge", "PKCE challenge"),
            Param("code_challenge_method", "s256 or plain"),
            Param("skip_http_redirect", "true: answer 200 {\"url\": …} instead of redirecting"),
        ),
        auth="user",
    ),
    ("DELETE", "/user/identities/{identity_id}"): Op(
        "Unlink one of the signed-in user's identities (never the last one)",
        EMPTY,
        errors=(401, 403, 404, 422, 500),
        params=(Param("identity_id", "The identity's id", {"type": "string", "format": "uuid"}, required=True, where="path"),),
        auth="user",
    ),
    ("POST", "/factors"): Op(
        "Enroll an MFA factor: totp (secret, otpauth URI and QR code) or phone",
        (200, "The new, unverified factor", "EnrolledFactor"),
        errors=(400, 401, 403, 422, 500),
        body=(schemas.EnrollFactorBody,),
        auth="user",
    ),
    ("POST", "/factors/{factor_id}/challenge"): Op(
        "Challenge a factor (a phone factor gets its code by SMS)",
        (200, "The challenge", "FactorChallenge"),
        errors=(400, 401, 403, 404, 422, 429, 500),
        body=(schemas.ChallengeFactorBody,),
        params=(Param("factor_id", "The factor's id", {"type": "string", "format": "uuid"}, required=True, where="path"),),
        auth="user",
    ),
    ("POST", "/factors/{factor_id}/verify"): Op(
        "Verify a challenge with the factor's code: the session becomes aal2",
        SIGNED_IN,
        errors=(400, 401, 403, 404, 422, 429, 500),
        body=(schemas.VerifyFactorBody,),
        params=(Param("factor_id", "The factor's id", {"type": "string", "format": "uuid"}, required=True, where="path"),),
        auth="user",
    ),
    ("DELETE", "/factors/{factor_id}"): Op(
        "Unenroll a factor (a verified one needs an aal2 session)",
        (200, "The removed factor's id", "FactorId"),
        errors=(400, 401, 403, 404, 422, 500),
        params=(Param("factor_id", "The factor's id", {"type": "string", "format": "uuid"}, required=True, where="path"),),
        auth="user",
    ),
    ("GET", "/user/sessions"): Op(
        "pytrue extension (not in GoTrue): the signed-in user's sessions, newest first; `current` marks this token's",
        (200, "The user's sessions", "UserSessionList"),
        errors=(400, 401, 403, 500),
        auth="user",
    ),
    ("DELETE", "/user/sessions/{session_id}"): Op(
        "pytrue extension (not in GoTrue): end one of the signed-in user's sessions (the current one too)",
        EMPTY,
        errors=(400, 401, 403, 404, 500),
        params=(SESSION_ID,),
        auth="user",
    ),
    ("GET", "/admin/users/{user_id}/factors"): Op(
        "A user's MFA factors", (200, "The factors", "FactorList"), errors=(401, 403, 404, 500), params=(USER_ID,), auth="admin"
    ),
    ("PUT", "/admin/users/{user_id}/factors/{factor_id}"): Op(
        "Rename a user's factor, or change a phone factor's number",
        (200, "The factor", "Factor"),
        errors=(400, 401, 403, 404, 500),
        body=(schemas.AdminFactorBody,),
        params=(USER_ID, FACTOR_ID),
        auth="admin",
    ),
    ("DELETE", "/admin/users/{user_id}/factors/{factor_id}"): Op(
        "Delete a user's factor; the sessions it stepped up fall back to aal1",
        (200, "The deleted factor", "Factor"),
        errors=(401, 403, 404, 500),
        params=(USER_ID, FACTOR_ID),
        auth="admin",
    ),
    ("POST", "/verify"): Op(
        "Verify an emailed or texted code or a token hash",
        (200, "A session, or a message when one more confirmation is needed", "SessionOrMessage"),
        errors=(400, 403, 404, 422, 429, 500),
        body=(schemas.VerifyBody,),
    ),
    ("GET", "/verify"): Op(
        "Follow an emailed link: redirects with a session, a PKCE code or an error "
        "(with PYTRUE_VERIFY_CONFIRMATION_PAGE, answers 200 text/html: a page whose form POSTs the "
        "link's fields back, form-encoded, to finish)",
        (303, "Redirect to redirect_to (or GOTRUE_SITE_URL)", None),
        errors=(400, 429, 500),
        params=(
            Param("type", "signup, invite, recovery, magiclink, email_change or email", required=True),
            Param("token", "The link's token hash", required=True),
            REDIRECT_TO,
        ),
    ),
    ("POST", "/otp"): Op("Email a magic link or code; text a code", SENT, errors=LIMITED, body=(schemas.OtpBody,), params=(REDIRECT_TO,)),
    ("POST", "/magiclink"): Op("Email a magic link", EMPTY, errors=LIMITED, body=(schemas.MagicLinkBody,), params=(REDIRECT_TO,)),
    ("POST", "/recover"): Op("Email a password recovery link", EMPTY, errors=LIMITED, body=(schemas.RecoverBody,), params=(REDIRECT_TO,)),
    ("POST", "/resend"): Op("Send a confirmation again", SENT, errors=LIMITED, body=(schemas.ResendBody,), params=(REDIRECT_TO,)),
    ("POST", "/invite"): Op(
        "Invite a user by email",
        USER,
        errors=(400, 401, 403, 422, 429, 500),
        body=(schemas.InviteBody,),
        params=(REDIRECT_TO,),
        auth="admin",
    ),
    ("POST", "/admin/generate_link"): Op(
        "Create a user's email link without sending it",
        (200, "The user with the link, its code and hashed token", "GeneratedLink"),
        errors=(400, 401, 403, 404, 422, 500),
        body=(schemas.GenerateLinkBody,),
        params=(REDIRECT_TO,),
        auth="admin",
    ),
    ("GET", "/admin/users"): Op(
        "List users of the audience; Link and X-Total-Count headers paginate",
        (200, "A page of users", "UserList"),
        errors=(400, 401, 403, 500),
        params=(
            PAGE,
            PER_PAGE,
            Param("filter", "Substring of the email or phone"),
            Param("sort", "created_at, optionally followed by a space and asc or desc"),
        ),
        auth="admin",
    ),
    ("GET", "/admin/audit"): Op(
        "The audit log, newest first; Link and X-Total-Count headers paginate",
        (200, "A page of audit entries", "AuditLog"),
        errors=(400, 401, 403, 500),
        params=(
            PAGE,
            PER_PAGE,
            Param("query", "author:<text>, action:<text> or type:<text> (case-insensitive substring)"),
        ),
        auth="admin",
    ),
    ("POST", "/admin/users"): Op(
        "Create a user", USER, errors=(400, 401, 403, 422, 500), body=(schemas.AdminUserBody,), auth="admin"
    ),
    ("GET", "/admin/users/{user_id}"): Op("A user", USER, errors=(401, 403, 404, 500), params=(USER_ID,), auth="admin"),
    ("PUT", "/admin/users/{user_id}"): Op(
        "Update a user; ban_duration bans and unbans",
        USER,
        errors=(400, 401, 403, 404, 422, 500),
        body=(schemas.AdminUserBody,),
        params=(USER_ID,),
        auth="admin",
    ),
    ("DELETE", "/admin/users/{user_id}"): Op(
        "Delete a user, or soft-delete it",
        EMPTY,
        errors=(400, 401, 403, 404, 500),
        body=(schemas.AdminDeleteBody,),
        params=(USER_ID,),
        auth="admin",
    ),
    ("GET", "/admin/users/{user_id}/sessions"): Op(
        "pytrue extension (not in GoTrue): a user's sessions, newest first",
        (200, "The user's sessions", "SessionList"),
        errors=(401, 403, 404, 500),
        params=(USER_ID,),
        auth="admin",
    ),
    ("DELETE", "/admin/users/{user_id}/sessions"): Op(
        "pytrue extension (not in GoTrue): end every session of a user",
        EMPTY,
        errors=(401, 403, 404, 500),
        params=(USER_ID,),
        auth="admin",
    ),
    ("DELETE", "/admin/users/{user_id}/sessions/{session_id}"): Op(
        "pytrue extension (not in GoTrue): end one session of a user",
        EMPTY,
        errors=(401, 403, 404, 500),
        params=(USER_ID, SESSION_ID),
        auth="admin",
    ),
}

ERROR_DESCRIPTIONS = {
    400: "Bad request: validation_failed, bad_json, invalid_credentials, …",
    401: "No bearer token (no_authorization)",
    403: "A bad or expired token (bad_jwt, not_admin, otp_expired, …)",
    404: "Not found (user_not_found, flow_state_not_found, …)",
    413: "Body over 1 MiB (request_entity_too_large)",
    422: "Unprocessable: email_exists, weak_password, signup_disabled, …",
    429: "Rate limited (over_request_rate_limit, over_email_send_rate_limit, …)",
    500: "Unexpected failure (unexpected_failure); the legacy shape carries error_id",
    503: "Busy or database unavailable (unexpected_failure); retry",
}

_OBJECT = {"type": "object", "additionalProperties": True}
_STRING = {"type": "string"}
_INT = {"type": "integer"}

RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "description": (
            "GoTrue's error body: the legacy shape, or with `X-Supabase-Api-Version: "
            f"{API_VERSION_2024}` (or later) the 2024 shape. `x-sb-error-code` repeats the code."
        ),
        "oneOf": [{"$ref": REF.format(name="LegacyError")}, {"$ref": REF.format(name="Error2024")}],
    },
    "LegacyError": {
        "type": "object",
        "required": ["code", "error_code", "msg"],
        "properties": {
            "code": {"type": "integer", "description": "The HTTP status"},
            "error_code": {"type": "string", "description": "GoTrue's error code"},
            "msg": _STRING,
            "error_id": {"type": "string", "description": "On 5xx: the request id"},
            "weak_password": {"$ref": REF.format(name="WeakPassword")},
        },
    },
    "Error2024": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "GoTrue's error code"},
            "message": _STRING,
            "weak_password": {"$ref": REF.format(name="WeakPassword")},
        },
    },
    "WeakPassword": {
        "type": "object",
        "properties": {"message": _STRING, "reasons": {"type": "array", "items": _STRING}},
    },
    "Empty": {"type": "object", "additionalProperties": False},
    "FactorId": {"type": "object", "properties": {"id": _STRING}, "required": ["id"]},
    "Factor": {
        "type": "object",
        "properties": {
            "id": _STRING, "created_at": _STRING, "updated_at": _STRING, "status": _STRING, "friendly_name": _STRING,
            "factor_type": _STRING, "phone": _STRING, "last_challenged_at": {"type": ["string", "null"]},
        },
        "required": ["id", "status", "factor_type"],
    },
    "FactorList": {"type": "array", "items": {"$ref": "#/components/schemas/Factor"}},
    "FactorChallenge": {
        "type": "object",
        "properties": {"id": _STRING, "type": _STRING, "expires_at": {"type": "integer"}},
        "required": ["id", "type", "expires_at"],
    },
    "EnrolledFactor": {
        "type": "object",
        "properties": {
            "id": _STRING,
            "type": _STRING,
            "friendly_name": _STRING,
            "phone": _STRING,
            "totp": {"type": "object", "properties": {"qr_code": _STRING, "secret": _STRING, "uri": _STRING}},
        },
        "required": ["id", "type", "friendly_name"],
    },
    "CodeSent": {"type": "object", "properties": {"message_id": _STRING}, "additionalProperties": False},
    "Health": {"type": "object", "properties": {"version": _STRING, "name": _STRING, "description": _STRING}},
    "Settings": {
        "type": "object",
        "properties": {
            "external": {"type": "object", "additionalProperties": {"type": "boolean"}},
            "disable_signup": {"type": "boolean"},
            "mailer_autoconfirm": {"type": "boolean"},
            "phone_autoconfirm": {"type": "boolean"},
            "sms_provider": _STRING,
            "saml_enabled": {"type": "boolean"},
        },
    },
    "Jwks": {"type": "object", "properties": {"keys": {"type": "array", "items": _OBJECT}}},
    "User": {
        "type": "object",
        "required": ["id", "aud", "role", "app_metadata", "user_metadata", "identities", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "aud": _STRING,
            "role": _STRING,
            "email": _STRING,
            "phone": _STRING,
            "email_confirmed_at": _STRING,
            "phone_confirmed_at": _STRING,
            "confirmed_at": _STRING,
            "last_sign_in_at": _STRING,
            "new_email": _STRING,
            "new_phone": _STRING,
            "app_metadata": _OBJECT,
            "user_metadata": _OBJECT,
            "identities": {"type": "array", "items": _OBJECT},
            "created_at": _STRING,
            "updated_at": _STRING,
            "banned_until": _STRING,
            "deleted_at": _STRING,
            "is_anonymous": {"type": "boolean"},
        },
    },
    "Session": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in", "expires_at", "refresh_token", "user"],
        "properties": {
            "access_token": _STRING,
            "token_type": {"const": "bearer"},
            "expires_in": _INT,
            "expires_at": _INT,
            "refresh_token": _STRING,
            "user": {"$ref": REF.format(name="User")},
            "weak_password": {"$ref": REF.format(name="WeakPassword")},
        },
    },
    "SessionOrUser": {"oneOf": [{"$ref": REF.format(name="Session")}, {"$ref": REF.format(name="User")}]},
    "SessionOrMessage": {
        "oneOf": [
            {"$ref": REF.format(name="Session")},
            {"type": "object", "required": ["msg", "code"], "properties": {"msg": _STRING, "code": _STRING}},
        ]
    },
    "AuditLog": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["id", "payload", "created_at", "ip_address"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "payload": {"type": "object"},
                "created_at": {"type": "string", "format": "date-time"},
                "ip_address": _STRING,
            },
        },
    },
    "SessionInfo": {
        "type": "object",
        "required": ["id", "created_at", "updated_at", "refreshed_at", "user_agent", "ip", "aal", "not_after", "tag"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "created_at": _STRING,
            "updated_at": _STRING,
            "refreshed_at": {"type": ["string", "null"]},
            "user_agent": {"type": ["string", "null"]},
            "ip": {"type": ["string", "null"]},
            "aal": _STRING,
            "not_after": {"type": ["string", "null"]},
            "tag": {"type": ["string", "null"]},
        },
    },
    "SessionList": {
        "type": "object",
        "required": ["sessions"],
        "properties": {"sessions": {"type": "array", "items": {"$ref": REF.format(name="SessionInfo")}}},
    },
    "UserSessionList": {
        "type": "object",
        "required": ["sessions"],
        "properties": {
            "sessions": {
                "type": "array",
                "items": {
                    "allOf": [
                        {"$ref": REF.format(name="SessionInfo")},
                        {"type": "object", "required": ["current"], "properties": {"current": {"type": "boolean"}}},
                    ]
                },
            }
        },
    },
    "UserList": {
        "type": "object",
        "properties": {"users": {"type": "array", "items": {"$ref": REF.format(name="User")}}, "aud": _STRING},
    },
    "GeneratedLink": {
        "allOf": [
            {"$ref": REF.format(name="User")},
            {
                "type": "object",
                "properties": {
                    "action_link": _STRING,
                    "email_otp": _STRING,
                    "hashed_token": _STRING,
                    "verification_type": _STRING,
                    "redirect_to": _STRING,
                },
            },
        ]
    },
}

_SECURITY = {
    "none": [],
    "user": [{"UserToken": []}],
    "admin": [{"ServiceRoleToken": []}],
}


@get(PATH, sync_to_thread=False)
def openapi_json() -> Response[bytes]:
    return Response(content=document_bytes(), media_type="application/json")


@lru_cache(maxsize=1)
def document_bytes() -> bytes:
    return msgspec.json.encode(build_document())


def build_document() -> dict[str, Any]:
    """Litestar's document of the routes, completed from `OPERATIONS`."""
    skeleton = _litestar_document()
    body_types = sorted({kind for op in OPERATIONS.values() for kind in op.body}, key=lambda k: k.__name__)
    _, body_schemas = msgspec.json.schema_components(body_types, ref_template=REF)
    for name, value in body_schemas.items():
        for field_name in ("email", "new_email"):
            if field_name in value["properties"]:
                value["properties"][field_name]["anyOf"][0]["format"] = "email"
        value["additionalProperties"] = True  # unknown keys are ignored, as in GoTrue
        value["description"] = "Unknown keys are ignored; null reads as absent. No string may contain U+0000."
    paths: dict[str, Any] = {}
    for path, item in skeleton.get("paths", {}).items():
        for method in [m for m in item if m in ("get", "put", "post", "delete", "patch")]:
            op = OPERATIONS.get((method.upper(), path))
            if op is None:
                raise LookupError(f"{method.upper()} {path} has no entry in pytrue.entrypoints.http.openapi.OPERATIONS")
            paths.setdefault(path, {})[method] = _operation(item[method], op)
    missing = set(OPERATIONS) - {(m.upper(), p) for p, item in paths.items() for m in item}
    if missing:
        raise LookupError(f"OPERATIONS lists routes the app does not serve: {sorted(missing)}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pytrue",
            "version": skeleton["info"]["version"],
            "description": (
                "The Supabase Auth (GoTrue) API as pytrue serves it. Errors use GoTrue's body shapes "
                "(components/schemas/Error). Strings may not contain U+0000 and JSON may nest at most "
                f"{schemas.MAX_JSON_DEPTH} levels (400)."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {**body_schemas, **copy.deepcopy(RESPONSE_SCHEMAS)},
            "securitySchemes": {
                "UserToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A user's access token"},
                "ServiceRoleToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A token whose role is in GOTRUE_JWT_ADMIN_ROLES (the service_role key)",
                },
            },
        },
    }


def _operation(generated: dict[str, Any], op: Op) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": generated.get("operationId"),
        "summary": op.summary,
        "security": _SECURITY[op.auth],
        "parameters": [_parameter(p) for p in op.params],
        "responses": _responses(op),
    }
    if not result["parameters"]:
        del result["parameters"]
    if op.body:
        refs = [{"$ref": REF.format(name=kind.__name__)} for kind in op.body]
        schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
        content: dict[str, Any] = {"application/json": {"schema": schema}}
        if op.form:
            content["application/x-www-form-urlencoded"] = {"schema": schema}
        result["requestBody"] = {"required": False, "content": content}
    return result


def _parameter(param: Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": param.where,
        "required": param.required or param.where == "path",
        "description": param.description,
        "schema": param.schema,
    }


def _responses(op: Op) -> dict[str, Any]:
    status, description, schema = op.ok
    ok: dict[str, Any] = {"description": description}
    if schema is not None:
        ok["content"] = {"application/json": {"schema": {"$ref": REF.format(name=schema)}}}
    responses: dict[str, Any] = {str(status): ok}
    error = {"application/json": {"schema": {"$ref": REF.format(name="Error")}}}
    for code in sorted(set(op.errors) | ({413} if op.body else set())):
        responses[str(code)] = {"description": ERROR_DESCRIPTIONS[code], "content": error}
    return responses


def _litestar_document() -> dict[str, Any]:
    """The routes as Litestar's own generator sees them, from an app built for that alone."""
    from litestar import Litestar
    from litestar.di import Provide
    from litestar.openapi import OpenAPIConfig

    from pytrue.entrypoints.http.app import ROUTES, USE_CASES
    from pytrue.entrypoints.http.routes.public import VERSION

    def placeholder() -> Provide:
        def nothing() -> None:
            return None

        return Provide(nothing, sync_to_thread=False)

    app = Litestar(
        route_handlers=ROUTES,
        dependencies={name: placeholder() for name in [*USE_CASES, "settings", "links"]},
        openapi_config=OpenAPIConfig(title="pytrue", version=VERSION.removeprefix("pytrue-"), create_examples=False),
    )
    return app.openapi_schema.to_schema()

