"""Every MFA and session action writes its audit row in the same transaction as its change (issue 12),
on either storage: when the audit write fails, the action answers 500 and the database is exactly as
it was — no factor, challenge, step-up, unenrolment or revocation without its audit row, and no audit
row without its change. On PostgreSQL the audit INSERT itself is refused by the database (a NULL
primary key; it is queued and sent with COMMIT, after every other write of the action); in memory the
unit of work's commit fails once it holds an audit entry, after every other write was applied."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyotp
import pytest
from contract.mfa_factors import IP, _challenge, _enroll, _signed_in, _totp_user, _verify, claims
from support.api import MemoryApi


class AuditWriteFailed(RuntimeError):
    """The audit store refused the row (stands for a disk, constraint or connection failure)."""


@pytest.fixture
def failing_audit(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`with failing_audit(api):` — audit writes fail inside the block."""
    failing = {"on": False}

    def install(api: Any) -> None:
        if isinstance(api, MemoryApi):
            from pytrue.adapters.memory.uow import InMemoryUnitOfWork

            commit = InMemoryUnitOfWork.commit

            async def failing_commit(self: InMemoryUnitOfWork) -> None:
                if failing["on"] and self._audited:  # noqa: SLF001
                    raise AuditWriteFailed("audit_log_entries: write refused")
                await commit(self)

            monkeypatch.setattr(InMemoryUnitOfWork, "commit", failing_commit)
        else:
            from psycopg.types.json import Json

            from pytrue.adapters.postgres.repositories import PgAuditLog

            add = PgAuditLog.add

            async def failing_add(self: PgAuditLog, entry: Any) -> None:
                if not failing["on"]:
                    return await add(self, entry)
                await self._defer(  # noqa: SLF001
                    "INSERT INTO {s}.audit_log_entries (instance_id, id, payload, created_at, ip_address) VALUES (%s, NULL, %s, %s, %s)",
                    (entry.instance_id, Json(entry.payload), entry.created_at, entry.ip_address),
                )

            monkeypatch.setattr(PgAuditLog, "add", failing_add)

    @contextmanager
    def during(api: Any) -> Iterator[None]:
        install(api)
        failing["on"] = True
        try:
            yield
        finally:
            failing["on"] = False

    return during


async def _snapshot(api: Any) -> Any:
    return (
        await api.counts(), await api.users(), await api.factor_rows(), await api.sessions(),
        await api.refresh_tokens(), await api.audit_payloads(),
    )  # fmt: skip


def _failed(response: Any) -> None:
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["error_code"] == "unexpected_failure", body
    assert "audit" not in response.text.lower()  # no internals in the answer


async def test_a_failed_audit_write_undoes_factor_enrolment(make_api: Any, failing_audit: Any) -> None:
    api = await make_api()
    session = await _signed_in(api)
    before = await _snapshot(api)
    with failing_audit(api):
        _failed(await _enroll(api, session["access_token"], friendly_name="authenticator"))
    assert await _snapshot(api) == before
    assert (await _enroll(api, session["access_token"], friendly_name="authenticator")).status_code == 200  # and it works after


async def test_a_failed_audit_write_undoes_the_challenge_and_the_verify(make_api: Any, failing_audit: Any) -> None:
    api = await make_api()
    session, factor_id, secret = await _totp_user(api)
    token = session["access_token"]
    before = await _snapshot(api)
    with failing_audit(api):
        _failed(await _challenge(api, token, factor_id))
    assert await _snapshot(api) == before

    challenge = (await _challenge(api, token, factor_id)).json()
    code = pyotp.TOTP(secret).now()
    before = await _snapshot(api)
    with failing_audit(api):
        _failed(await _verify(api, token, factor_id, challenge["id"], code))
    assert await _snapshot(api) == before  # factor unverified, challenge unspent, session aal1, no amr, old refresh token

    verified = await _verify(api, token, factor_id, challenge["id"], code)  # the same challenge and code: nothing was spent
    assert verified.status_code == 200, verified.text
    assert claims(verified.json()["access_token"])["aal"] == "aal2"


async def test_a_failed_audit_write_undoes_unenrolment(make_api: Any, failing_audit: Any) -> None:
    api = await make_api()
    session, factor_id, secret = await _totp_user(api)
    challenge = (await _challenge(api, session["access_token"], factor_id)).json()
    stepped = (await _verify(api, session["access_token"], factor_id, challenge["id"], pyotp.TOTP(secret).now())).json()
    token = stepped["access_token"]
    before = await _snapshot(api)
    with failing_audit(api):
        _failed(await api.client.delete(f"/factors/{factor_id}", headers=api.headers(token, **IP)))
    assert await _snapshot(api) == before
    assert (await api.client.get("/user", headers=api.headers(token))).json()["factors"][0]["id"] == factor_id


async def test_a_failed_audit_write_undoes_a_session_revocation(make_api: Any, failing_audit: Any) -> None:
    api = await make_api()
    first = await _signed_in(api, "two@example.com")
    second = (await api.password_grant("two@example.com")).json()
    target = claims(second["access_token"])["session_id"]
    before = await _snapshot(api)
    with failing_audit(api):
        _failed(await api.client.delete(f"/user/sessions/{target}", headers=api.headers(first["access_token"])))
    assert await _snapshot(api) == before
    assert (await api.refresh(second["refresh_token"])).status_code == 200  # the session still works
