"""The admin API: `/admin/users`, `/admin/users/{user_id}` and its sessions (a pytrue extension)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from pytrue.application.config import Settings
from pytrue.application.ports import UserListQuery
from pytrue.application.results import Principal
from pytrue.application.use_cases.admin import (
    AdminCreateUser,
    AdminDeleteUser,
    AdminGetUser,
    AdminAuditLog,
    AdminListUsers,
    AdminUpdateUser,
    AdminUserAttributes,
)
from pytrue.application.use_cases.admin_factors import AdminDeleteFactor, AdminListFactors, AdminUpdateFactor
from pytrue.application.use_cases.authenticate import AuthorizeAdmin
from pytrue.application.use_cases.session_management import AdminListSessions, AdminRevokeSessions
from pytrue.domain.errors import ValidationFailed
from pytrue.entrypoints.http.requests import bearer_token, json_response, request_audience
from pytrue.entrypoints.http.schemas import AdminDeleteBody, AdminFactorBody, AdminUserBody, decode_body
from pytrue.entrypoints.http.serialize import factor_json, session_json, user_json


def _attributes(body: AdminUserBody) -> AdminUserAttributes:
    return AdminUserAttributes(
        id=body.id,
        aud=body.aud,
        role=body.role,
        email=body.email,
        phone=body.phone,
        password=body.password,
        password_hash=body.password_hash,
        email_confirm=bool(body.email_confirm),
        phone_confirm=bool(body.phone_confirm),
        user_metadata=body.user_metadata,
        app_metadata=body.app_metadata,
        ban_duration=body.ban_duration,
    )


def _user_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise ValidationFailed("user_id must be an UUID", where="path") from None


def _int_param(request: Request[Any, Any, Any], name: str, default: int) -> int:
    raw = request.query_params.get(name, "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ValidationFailed(f"Bad Pagination Parameters: strconv.ParseUint: parsing {_go_quote(raw)}: invalid syntax")
    digits = raw.lstrip("0")
    if len(digits) > 20 or int(digits or "0") >= 2**64:
        raise ValidationFailed(f"Bad Pagination Parameters: strconv.ParseUint: parsing {_go_quote(raw)}: value out of range")
    return int(digits or "0")


def _go_quote(raw: str) -> str:
    short = raw if len(raw) <= 64 else raw[:64] + "..."
    return '"' + short.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _descending(request: Request[Any, Any, Any]) -> bool:
    raw = request.query_params.get("sort", "")
    if raw == "":
        return True
    parts = raw.split(" ")
    if parts[0] != "created_at" or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise ValidationFailed(f"Bad Sort Parameters: {raw}")
    return len(parts) == 1 or parts[1].lower() == "desc"


def _link_header(request: Request[Any, Any, Any], page: int, per_page: int, total: int) -> str:
    last = math.ceil(total / per_page) if per_page else 0
    params = {k: v for k, v in request.query_params.items()}

    def link(target: int, rel: str) -> str:
        query = dict(params, page=str(target), per_page=str(per_page))
        return f'<{request.url.path}?{urlencode(sorted(query.items()))}>; rel="{rel}"'

    links = [link(page + 1, "next")] if page < last else []
    links.append(link(last, "last"))
    return ", ".join(links)


async def _admin(request: Request[Any, Any, Any], authorize_admin: AuthorizeAdmin) -> Principal:
    return await authorize_admin(bearer_token(request))


@get("/admin/users")
async def list_users(
    request: Request[Any, Any, Any],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_list_users: NamedDependency[AdminListUsers],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    principal = await _admin(request, authorize_admin)
    page = _int_param(request, "page", 1)
    per_page = _int_param(request, "per_page", 50)
    aud = request_audience(request, settings.jwt, principal.claims)
    result = await admin_list_users(
        UserListQuery(
            aud=aud,
            page=page,
            per_page=per_page,
            filter=request.query_params.get("filter", ""),
            descending=_descending(request),
        )
    )
    headers = {"X-Total-Count": str(result.total), "Link": _link_header(request, page, per_page, result.total)}
    return json_response({"users": [user_json(u) for u in result.users], "aud": aud}, headers=headers)


@get("/admin/audit")
async def audit_log(
    request: Request[Any, Any, Any],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_audit_log: NamedDependency[AdminAuditLog],
) -> Response[bytes]:
    await _admin(request, authorize_admin)
    page = _int_param(request, "page", 1)
    per_page = _int_param(request, "per_page", 50)
    result = await admin_audit_log(request.query_params.get("query", ""), page=page, per_page=per_page)
    body = [
        {"id": str(e.id), "payload": e.payload, "created_at": e.created_at, "ip_address": e.ip_address}
        for e in result.entries
    ]
    headers = {"X-Total-Count": str(result.total), "Link": _link_header(request, page, per_page, result.total)}
    return json_response(body, headers=headers)


@post("/admin/users", status_code=200)
async def create_user(
    request: Request[Any, Any, Any],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_create_user: NamedDependency[AdminCreateUser],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    principal = await _admin(request, authorize_admin)
    body = decode_body(await request.body(), AdminUserBody)
    attrs = _attributes(body)
    if not attrs.aud:
        attrs = replace(attrs, aud=request_audience(request, settings.jwt, principal.claims))
    user = await admin_create_user(attrs, admin_role=principal.role)
    return json_response(user_json(user))


@get("/admin/users/{user_id:str}")
async def get_user(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_get_user: NamedDependency[AdminGetUser],
) -> Response[bytes]:
    await _admin(request, authorize_admin)
    return json_response(user_json(await admin_get_user(_user_id(user_id))))


@put("/admin/users/{user_id:str}")
async def update_user(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_update_user: NamedDependency[AdminUpdateUser],
) -> Response[bytes]:
    principal = await _admin(request, authorize_admin)
    uid = _user_id(user_id)
    body = decode_body(await request.body(), AdminUserBody)
    user = await admin_update_user(uid, _attributes(body), admin_role=principal.role)
    return json_response(user_json(user))


@delete("/admin/users/{user_id:str}", status_code=200)
async def delete_user(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_delete_user: NamedDependency[AdminDeleteUser],
) -> Response[bytes]:
    principal = await _admin(request, authorize_admin)
    uid = _user_id(user_id)
    body = decode_body(await request.body(), AdminDeleteBody)
    await admin_delete_user(uid, soft=bool(body.should_soft_delete), admin_role=principal.role)
    return json_response({})


@get("/admin/users/{user_id:str}/sessions")
async def list_user_sessions(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_list_sessions: NamedDependency[AdminListSessions],
) -> Response[bytes]:
    await _admin(request, authorize_admin)
    sessions = await admin_list_sessions(_user_id(user_id))
    return json_response({"sessions": [session_json(s) for s in sessions]})


@delete("/admin/users/{user_id:str}/sessions", status_code=200)
async def revoke_user_sessions(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_revoke_sessions: NamedDependency[AdminRevokeSessions],
) -> Response[bytes]:
    principal = await _admin(request, authorize_admin)
    await admin_revoke_sessions(_user_id(user_id), admin_role=principal.role)
    return json_response({})


@delete("/admin/users/{user_id:str}/sessions/{session_id:str}", status_code=200)
async def revoke_user_session(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    session_id: FromPath[str],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_revoke_sessions: NamedDependency[AdminRevokeSessions],
) -> Response[bytes]:
    principal = await _admin(request, authorize_admin)
    await admin_revoke_sessions(_user_id(user_id), session_id, admin_role=principal.role)
    return json_response({})


# --- MFA factors (api.md §15.8) -------------------------------------------------------------------
@get("/admin/users/{user_id:str}/factors")
async def list_factors(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_list_factors: NamedDependency[AdminListFactors],
) -> Response[bytes]:
    await _admin(request, authorize_admin)
    return json_response([factor_json(f) for f in await admin_list_factors(_user_id(user_id))])


@put("/admin/users/{user_id:str}/factors/{factor_id:str}")
async def update_factor(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    factor_id: FromPath[str],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_update_factor: NamedDependency[AdminUpdateFactor],
) -> Response[bytes]:
    principal = await _admin(request, authorize_admin)
    uid = _user_id(user_id)
    body = decode_body(await request.body(), AdminFactorBody)
    factor = await admin_update_factor(
        uid, factor_id, friendly_name=body.friendly_name or "", phone=body.phone or "", admin_role=principal.role
    )
    return json_response(factor_json(factor))


@delete("/admin/users/{user_id:str}/factors/{factor_id:str}", status_code=200)
async def delete_factor(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    factor_id: FromPath[str],
    authorize_admin: NamedDependency[AuthorizeAdmin],
    admin_delete_factor: NamedDependency[AdminDeleteFactor],
) -> Response[bytes]:
    await _admin(request, authorize_admin)
    return json_response(factor_json(await admin_delete_factor(_user_id(user_id), factor_id)))
