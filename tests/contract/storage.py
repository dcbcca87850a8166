"""Storage contract over HTTP: what is written, what is refused without a trace, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import bcrypt


def _without_audit(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if k != "audit_log_entries"}


async def test_signup_writes_user_identity_session_token_and_audit(api: Any) -> None:
    before = await api.counts()
    assert (await api.signup("new@example.com")).status_code == 200
    after = await api.counts()
    assert after["users"] == before["users"] + 1
    assert after["identities"] == before["identities"] + 1
    assert after["sessions"] == before["sessions"] + 1
    assert after["refresh_tokens"] == before["refresh_tokens"] + 1
    assert after["audit_log_entries"] >= before["audit_log_entries"] + 2


async def test_refused_requests_change_nothing(api: Any) -> None:
    await api.signup("taken@example.com")
    before = await api.counts()
    duplicate = await api.signup("taken@example.com")
    assert duplicate.status_code == 422 and duplicate.json()["error_code"] == "user_already_exists"
    weak = await api.signup("weak@example.com", password="123")
    assert weak.status_code == 422 and weak.json()["weak_password"]["reasons"] == ["length"]
    bad = await api.client.post("/signup", content=b'{"email": 5}', headers=api.headers())
    assert bad.status_code == 400 and bad.json()["error_code"] == "bad_json"
    wrong = await api.password_grant("taken@example.com", "wrong-password")
    assert wrong.json()["error_code"] == "invalid_credentials"
    unknown = await api.password_grant("nobody@example.com", "wrong-password")
    assert unknown.json() == wrong.json()
    assert _without_audit(await api.counts()) == _without_audit(before)


async def test_reuse_outside_the_interval_revokes_the_session(api: Any) -> None:
    first = (await api.signup()).json()
    second = (await api.refresh(first["refresh_token"])).json()
    third = (await api.refresh(second["refresh_token"])).json()
    reused = await api.refresh(first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error_code"] == "refresh_token_already_used"
    after = await api.refresh(third["refresh_token"])
    assert after.json()["error_code"] == "refresh_token_already_used"


async def test_lost_response_returns_the_existing_child(api: Any) -> None:
    first = (await api.signup()).json()
    child = (await api.refresh(first["refresh_token"])).json()
    again = await api.refresh(first["refresh_token"])
    assert again.status_code == 200
    assert again.json()["refresh_token"] == child["refresh_token"]


async def test_concurrent_refreshes_of_one_token_end_consistently(make_api: Any) -> None:
    api = await make_api({"GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL": "10"})
    first = (await api.signup()).json()
    before = await api.counts()
    responses = await asyncio.gather(*(api.refresh(first["refresh_token"]) for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    issued = {r.json()["refresh_token"] for r in responses}
    assert len(issued) == 1
    assert (await api.counts())["refresh_tokens"] == before["refresh_tokens"] + 1
    follow_up = await api.refresh(issued.pop())
    assert follow_up.status_code == 200


async def test_hard_delete_removes_sessions_tokens_and_identities(api: Any) -> None:
    user = (await api.signup()).json()["user"]
    response = await api.client.delete(f"/admin/users/{user['id']}", headers=api.admin())
    assert response.status_code == 200 and response.json() == {}
    counts = await api.counts()
    assert counts["users"] == counts["identities"] == counts["sessions"] == counts["refresh_tokens"] == 0


async def test_imported_bcrypt_hash_signs_in(api: Any) -> None:
    hashed = bcrypt.hashpw(b"imported-pass", bcrypt.gensalt(4, prefix=b"2a")).decode()
    created = await api.client.post(
        "/admin/users",
        json={"email": "old@example.com", "password_hash": hashed, "email_confirm": True},
        headers=api.admin(),
    )
    assert created.status_code == 200, created.text
    first = await api.password_grant("old@example.com", "imported-pass")
    assert first.status_code == 200
    second = await api.password_grant("old@example.com", "imported-pass")
    assert second.status_code == 200
    assert (await api.password_grant("old@example.com", "not-it")).status_code == 400


async def test_ban_blocks_sign_in_refresh_and_access(api: Any) -> None:
    session = (await api.signup()).json()
    user_id = session["user"]["id"]
    banned = await api.client.put(f"/admin/users/{user_id}", json={"ban_duration": "24h"}, headers=api.admin())
    assert banned.status_code == 200 and banned.json()["banned_until"]
    assert (await api.password_grant()).json()["error_code"] == "user_banned"
    assert (await api.refresh(session["refresh_token"])).json()["error_code"] == "user_banned"
    me = await api.client.get("/user", headers=api.headers(session["access_token"]))
    assert me.status_code == 403 and me.json()["error_code"] == "user_banned"
    lifted = await api.client.put(f"/admin/users/{user_id}", json={"ban_duration": "none"}, headers=api.admin())
    assert "banned_until" not in lifted.json()
    assert (await api.password_grant()).status_code == 200
