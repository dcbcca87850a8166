"""Multi-factor authentication: `/factors` (api.md §17)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from pytrue.application.use_cases.authenticate import AuthenticateUser
from pytrue.application.use_cases.mfa import (
    ChallengeFactor,
    EnrollFactor,
    EnrollFactorCommand,
    UnenrollFactor,
    VerifyFactor,
    VerifyFactorCommand,
)
from pytrue.entrypoints.http import limits
from pytrue.entrypoints.http.requests import bearer_token, json_response, request_context
from pytrue.entrypoints.http.schemas import ChallengeFactorBody, EnrollFactorBody, VerifyFactorBody, decode_body
from pytrue.entrypoints.http.serialize import token_headers, token_json


@post("/factors", status_code=200)
async def enroll(
    request: Request[Any, Any, Any], authenticate_user: NamedDependency[AuthenticateUser], enroll_factor: NamedDependency[EnrollFactor]
) -> Response[bytes]:
    principal = await authenticate_user(bearer_token(request))
    body = decode_body(await request.body(), EnrollFactorBody)
    enrolled = await enroll_factor(
        principal,
        EnrollFactorCommand(
            factor_type=body.factor_type or "",
            friendly_name=body.friendly_name or "",
            issuer=body.issuer or "",
            phone=body.phone or "",
            ctx=request_context(request),
        ),
    )
    factor = enrolled.factor
    answer: dict[str, Any] = {"id": str(factor.id), "type": factor.factor_type, "friendly_name": factor.friendly_name}
    if factor.factor_type == "totp":
        answer["totp"] = {"qr_code": enrolled.qr_code, "secret": enrolled.totp_secret, "uri": enrolled.totp_uri}
    elif factor.factor_type == "phone":
        answer["phone"] = enrolled.phone
    return json_response(answer)


@post("/factors/{factor_id:str}/challenge", status_code=200)
async def challenge(
    request: Request[Any, Any, Any],
    factor_id: FromPath[str],
    authenticate_user: NamedDependency[AuthenticateUser],
    challenge_factor: NamedDependency[ChallengeFactor],
) -> Response[bytes]:
    principal = await authenticate_user(bearer_token(request))
    await limits.limit(request, limits.FACTOR_CHALLENGE)
    body = decode_body(await request.body(), ChallengeFactorBody)
    result = await challenge_factor(principal, factor_id, channel=body.channel or "", ctx=request_context(request))
    answer: dict[str, Any] = {"id": str(result.challenge.id), "type": result.factor_type, "expires_at": int(result.expires_at.timestamp())}
    if result.webauthn_options is not None:
        answer["webauthn"] = {"type": result.webauthn_type, "credential_options": result.webauthn_options}
    return json_response(answer)


@post("/factors/{factor_id:str}/verify", status_code=200)
async def verify(
    request: Request[Any, Any, Any],
    factor_id: FromPath[str],
    authenticate_user: NamedDependency[AuthenticateUser],
    verify_factor: NamedDependency[VerifyFactor],
) -> Response[bytes]:
    principal = await authenticate_user(bearer_token(request))
    await limits.limit(request, limits.FACTOR_VERIFY)
    body = decode_body(await request.body(), VerifyFactorBody)
    result = await verify_factor(
        principal,
        VerifyFactorCommand(
            factor_id=factor_id, challenge_id=body.challenge_id or "", code=body.code or "", webauthn=body.webauthn,
            ctx=request_context(request),
        ),
    )
    return json_response(token_json(result), headers=token_headers(result))


@delete("/factors/{factor_id:str}", status_code=200)
async def unenroll(
    request: Request[Any, Any, Any],
    factor_id: FromPath[str],
    authenticate_user: NamedDependency[AuthenticateUser],
    unenroll_factor: NamedDependency[UnenrollFactor],
) -> Response[bytes]:
    principal = await authenticate_user(bearer_token(request))
    removed = await unenroll_factor(principal, factor_id)
    return json_response({"id": str(removed)})
