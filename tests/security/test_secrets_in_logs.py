"""Nothing secret reaches the logs: passwords, refresh and access tokens, the JWT secret, password hashes.

Settings' own redaction is pinned in tests/unit/test_settings.py, 500s without internals in
tests/unit/test_http_failures.py.
"""

from __future__ import annotations

import logging
from typing import Any

from support.app import JWT_SECRET


async def test_a_whole_session_life_logs_no_secret(api: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    password = "Very-Secret-Passw0rd-4-logs"
    session = (await api.signup("logs@example.com", password)).json()
    await api.password_grant("logs@example.com", "Wrong-Passw0rd-4-logs")
    refreshed = (await api.refresh(session["refresh_token"])).json()
    await api.refresh(session["refresh_token"] + "x")
    await api.client.put("/user", json={"password": password + "!"}, headers=api.headers(refreshed["access_token"]))
    await api.client.get("/admin/users?filter=%00", headers=api.admin())
    stored = (await api.user())["encrypted_password"]
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (
        password,
        "Wrong-Passw0rd-4-logs",
        session["refresh_token"],
        refreshed["refresh_token"],
        session["access_token"],
        JWT_SECRET,
        api.service,
        stored,
    ):
        assert secret not in text
