"""Algorithm confusion over HTTP: `alg: none`, another secret, a user token on admin routes are all refused.

The key-set rules (RS256 public key as an HS256 secret, kid/family mismatches) are in tests/unit/test_jwt.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from contract.http_admin import test_user_token_is_not_admin  # noqa: F401
from support.http import claims


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forge(header: dict[str, Any], payload: dict[str, Any], signature: str = "") -> str:
    return f"{_b64(header)}.{_b64(payload)}.{signature}"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_unsigned_tokens_are_refused(api: Any, alg: str) -> None:
    session = (await api.signup()).json()
    payload = claims(session["access_token"])
    for path in ("/user", "/admin/users"):
        forged = _forge({"alg": alg, "typ": "JWT"}, {**payload, "role": "service_role"})
        response = await api.client.get(path, headers=api.headers(forged))
        assert response.status_code == 403, response.text
        assert response.json()["error_code"] == "bad_jwt"


async def test_a_token_signed_with_another_secret_is_refused(api: Any) -> None:
    from pytrue.adapters.jwt.keys import KeySet
    from pytrue.adapters.jwt.tokens import JoserfcTokenSigner

    other = JoserfcTokenSigner(KeySet("another-secret-that-is-long-enough-for-hs256-000000"))
    forged = other.sign({"role": "service_role", "iss": "supabase", "exp": 4102444800})
    response = await api.client.get("/admin/users", headers=api.headers(forged))
    assert response.status_code == 403 and response.json()["error_code"] == "bad_jwt", response.text
