"""Per-IP request limiters (api.md §0.5): keyed on a trusted header, shared through the storage."""

from __future__ import annotations

from typing import Any

from support.http import assert_error

LIMITED = {"GOTRUE_RATE_LIMIT_HEADER": "X-Forwarded-For", "GOTRUE_RATE_LIMIT_VERIFY": "30"}


async def _verify(api: Any, ip: str | None) -> Any:
    headers = api.headers(**({"X-Forwarded-For": f"{ip}, 10.0.0.1"} if ip else {}))
    return await api.client.post("/verify", json={"type": "signup", "token_hash": "f" * 56}, headers=headers)


async def test_a_client_over_its_burst_gets_429_and_others_do_not(make_api: Any) -> None:
    api = await make_api(LIMITED)
    for _ in range(30):  # burst 30: every request is answered on its merits
        assert_error(await _verify(api, "203.0.113.7"), 403, "otp_expired")
    assert_error(await _verify(api, "203.0.113.7"), 429, "over_request_rate_limit", "Request rate limit reached")
    assert_error(await _verify(api, "198.51.100.1"), 403, "otp_expired")


async def test_without_a_trusted_header_there_is_no_per_ip_limit(make_api: Any) -> None:
    api = await make_api({"GOTRUE_RATE_LIMIT_VERIFY": "1"})
    for _ in range(35):
        assert_error(await _verify(api, "203.0.113.7"), 403, "otp_expired")
    limited = await make_api(LIMITED)
    for _ in range(35):  # the header is configured but this request does not carry it
        assert_error(await _verify(limited, None), 403, "otp_expired")


async def test_endpoints_have_their_own_buckets(make_api: Any) -> None:
    api = await make_api({"GOTRUE_RATE_LIMIT_HEADER": "X-Real-Ip", "GOTRUE_RATE_LIMIT_OTP": "1"})
    headers = api.headers(**{"X-Real-Ip": "203.0.113.9"})
    for _ in range(30):
        response = await api.client.post("/recover", json={"email": "nobody@example.com"}, headers=headers)
        assert response.status_code == 200
    over = await api.client.post("/recover", json={"email": "nobody@example.com"}, headers=headers)
    assert_error(over, 429, "over_request_rate_limit")
    other = await api.client.post("/magiclink", json={"email": "bad"}, headers=headers)
    assert other.status_code == 400 and other.json()["error_code"] == "validation_failed", other.text
    token = await api.client.post("/token?grant_type=refresh_token", json={"refresh_token": "abcdefghijkl"}, headers=headers)
    assert_error(token, 400, "refresh_token_not_found")


async def test_an_oversized_client_header_is_limited_like_any_other(make_api: Any) -> None:
    api = await make_api(LIMITED)
    huge = "203.0.113.7" + "x" * 8000
    for _ in range(30):
        assert_error(await _verify(api, huge), 403, "otp_expired")
    assert_error(await _verify(api, huge), 429, "over_request_rate_limit")


async def test_huge_limits_mean_no_limit(make_api: Any) -> None:
    api = await make_api({**LIMITED, "GOTRUE_RATE_LIMIT_VERIFY": "1000000000", "GOTRUE_RATE_LIMIT_TOKEN_REFRESH": "1e12"})
    for _ in range(40):
        assert_error(await _verify(api, "203.0.113.7"), 403, "otp_expired")
