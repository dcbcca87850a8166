"""Hostile input (issue 16.4): NUL characters, out-of-range pages and deeply nested JSON are GoTrue's 400, nothing written.

PostgreSQL's text and jsonb cannot hold U+0000, so a NUL anywhere in a request body (`\\u0000`)
or its query string (`%00`) is refused at the HTTP edge with `400 validation_failed`, on both
storages; JSON nested deeper than the decoder's bound is `400 bad_json`; `page` and `per_page`
outside their documented range are `400 validation_failed`.
"""

from __future__ import annotations

from typing import Any

import pytest

NUL = "a\u0000b"
HOSTILE_CODES = ("validation_failed", "bad_json")


def assert_refused(response: Any, code: str | None = None) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400 and body["error_code"] in HOSTILE_CODES, body
    assert code is None or body["error_code"] == code, body
    assert "Traceback" not in response.text and "psycopg" not in response.text
    assert response.headers["x-sb-error-code"] == body["error_code"]


async def _user_token(api: Any) -> str:
    response = await api.signup("owner@example.com", "s3cret-pass")
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _admin_user_id(api: Any) -> str:
    created = await api.client.post(
        "/admin/users", json={"email": "target@example.com", "email_confirm": True}, headers=api.admin()
    )
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


# (method, path, body, who): who is "anon", "user" (a signed-up user's token) or "admin"
NUL_BODIES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/signup", {"email": "new@example.com", "password": "s3cret-pass", "data": {"k": NUL}}, "anon"),
    ("POST", "/signup", {"email": "new@example.com", "password": "s3cret-pass", "data": {NUL: 1}}, "anon"),
    ("POST", "/signup", {"email": "new\u0000@example.com", "password": "s3cret-pass"}, "anon"),
    ("POST", "/token?grant_type=refresh_token", {"refresh_token": NUL}, "anon"),
    ("POST", "/token?grant_type=password", {"email": "owner\u0000@example.com", "password": "x"}, "anon"),
    ("POST", "/token?grant_type=pkce", {"auth_code": NUL, "code_verifier": "v" * 43}, "anon"),
    ("POST", "/verify", {"type": "signup", "token_hash": NUL}, "anon"),
    ("POST", "/verify", {"type": "email", "token": NUL, "email": "owner@example.com"}, "anon"),
    ("POST", "/verify", {"type": NUL, "token_hash": "f" * 56}, "anon"),
    ("POST", "/otp", {"email": "otp@example.com", "data": {"k": [NUL]}}, "anon"),
    ("POST", "/otp", {"email": "otp\u0000@example.com"}, "anon"),
    ("POST", "/magiclink", {"email": "magic@example.com", "data": {"k": NUL}}, "anon"),
    ("POST", "/recover", {"email": "owner\u0000@example.com"}, "anon"),
    ("POST", "/resend", {"type": "signup", "email": "owner\u0000@example.com"}, "anon"),
    ("PUT", "/user", {"data": {"k": NUL}}, "user"),
    ("PUT", "/user", {"email": "new\u0000@example.com"}, "user"),
    ("POST", "/admin/users", {"email": "a@example.com", "user_metadata": {"k": NUL}}, "admin"),
    ("POST", "/admin/users", {"email": "a@example.com", "app_metadata": {"k": {"deep": NUL}}}, "admin"),
    ("POST", "/admin/users", {"email": "a@example.com", "role": NUL}, "admin"),
    ("POST", "/admin/users", {"email": "a@example.com", "aud": NUL}, "admin"),
    ("POST", "/admin/users", {"email": "a\u0000@example.com"}, "admin"),
    ("PUT", "/admin/users/{id}", {"user_metadata": {"k": NUL}}, "admin"),
    ("PUT", "/admin/users/{id}", {"app_metadata": {"k": NUL}}, "admin"),
    ("PUT", "/admin/users/{id}", {"role": NUL}, "admin"),
    ("PUT", "/admin/users/{id}", {"aud": NUL}, "admin"),
    ("PUT", "/admin/users/{id}", {"email": "t\u0000@example.com"}, "admin"),
    ("POST", "/invite", {"email": "invitee@example.com", "data": {"k": NUL}}, "admin"),
    ("POST", "/admin/generate_link", {"type": "signup", "email": "g@example.com", "password": "s3cret-pass", "data": {"k": NUL}}, "admin"),
]


async def _send(api: Any, method: str, path: str, who: str, **kwargs: Any) -> Any:
    token = await _user_token(api) if who == "user" else None
    if "{id}" in path:
        path = path.replace("{id}", await _admin_user_id(api))
    headers = api.admin() if who == "admin" else api.headers(token)
    before = await api.counts()
    response = await api.client.request(method, path, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)
    assert await api.counts() == before, f"{method} {path} wrote rows"
    return response


@pytest.mark.parametrize(("method", "path", "body", "who"), NUL_BODIES)
async def test_a_nul_in_a_json_body_is_refused_with_nothing_written(
    api: Any, method: str, path: str, body: dict[str, Any], who: str
) -> None:
    assert_refused(await _send(api, method, path, who, json=body), "validation_failed")


@pytest.mark.parametrize(
    "form",
    ["grant_type=refresh_token&refresh_token=a%00b", "grant_type=password&email=o%00@example.com&password=x",
     "grant_type=pkce&auth_code=%00&code_verifier=" + "v" * 43],
)
async def test_a_nul_in_a_form_body_is_refused(api: Any, form: str) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert_refused(await _send(api, "POST", "/token", "anon", content=form, headers=headers), "validation_failed")


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/verify?type=signup&token=a%00b", "anon"),
        ("/verify?type=sign%00up&token=abc", "anon"),
        ("/admin/users?filter=a%00b", "admin"),
        ("/admin/users?page=1&per_page=10&filter=%00", "admin"),
        ("/user?x=%00", "user"),
        ("/settings?redirect_to=http://localhost:3000/%00", "anon"),
    ],
)
async def test_a_nul_in_a_query_string_is_refused(api: Any, path: str, who: str) -> None:
    assert_refused(await _send(api, "GET", path, who), "validation_failed")


async def test_a_nul_in_a_post_query_string_is_refused(api: Any) -> None:
    response = await _send(
        api, "POST", "/signup?redirect_to=%00", "anon", json={"email": "q@example.com", "password": "s3cret-pass"}
    )
    assert_refused(response, "validation_failed")


@pytest.mark.parametrize(
    "query",
    [
        "page=99999999999999999999",
        "per_page=99999999999999999999",
        "page=9223372036854775807",
        "page=9223372036854775807&per_page=1000",
        "per_page=1001",
        "page=-1",
        "per_page=1e3",
    ],
)
async def test_out_of_range_pagination_is_validation_failed(api: Any, query: str) -> None:
    response = await _send(api, "GET", f"/admin/users?{query}", "admin")
    assert_refused(response, "validation_failed")
    assert response.json()["msg"].startswith("Bad Pagination Parameters")


async def test_pagination_at_its_bounds_is_served(api: Any) -> None:
    await _admin_user_id(api)
    for query in ("per_page=1000", "page=2147483647&per_page=1000", "page=0001&per_page=" + "0" * 5000 + "7"):
        response = await api.client.get(f"/admin/users?{query}", headers=api.admin())
        assert response.status_code == 200, (query, response.text)


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


DEEP_TARGETS = [
    ("POST", "/signup", "anon"),
    ("POST", "/token?grant_type=password", "anon"),
    ("POST", "/token?grant_type=refresh_token", "anon"),
    ("POST", "/verify", "anon"),
    ("POST", "/otp", "anon"),
    ("POST", "/magiclink", "anon"),
    ("POST", "/recover", "anon"),
    ("POST", "/resend", "anon"),
    ("PUT", "/user", "user"),
    ("POST", "/admin/users", "admin"),
    ("PUT", "/admin/users/{id}", "admin"),
    ("DELETE", "/admin/users/{id}", "admin"),
    ("POST", "/invite", "admin"),
    ("POST", "/admin/generate_link", "admin"),
]


@pytest.mark.parametrize(("method", "path", "who"), DEEP_TARGETS)
async def test_json_nested_a_thousand_levels_deep_is_bad_json(api: Any, method: str, path: str, who: str) -> None:
    headers = {"Content-Type": "application/json"}
    response = await _send(api, method, path, who, content=_nested(1000), headers=headers)
    assert_refused(response, "bad_json")


@pytest.mark.parametrize("field", ["data", "user_metadata"])
async def test_metadata_nested_deeper_than_the_bound_is_bad_json(api: Any, field: str) -> None:
    inner = b'{"k":' * 80 + b"1" + b"}" * 80
    body = b'{"email":"deep@example.com","password":"s3cret-pass","' + field.encode() + b'":' + inner + b"}"
    path, who = ("/signup", "anon") if field == "data" else ("/admin/users", "admin")
    response = await _send(api, "POST", path, who, content=body, headers={"Content-Type": "application/json"})
    assert_refused(response, "bad_json")


async def test_metadata_within_the_bound_is_stored(api: Any) -> None:
    inner: Any = 1
    for _ in range(30):
        inner = {"k": [inner]}
    response = await api.signup("nested@example.com", "s3cret-pass", data={"tree": inner, "text": "ok"})
    assert response.status_code == 200, response.text
    assert (await api.user())["user_metadata"]["tree"] == inner
