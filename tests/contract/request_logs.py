"""The `request completed` line per request, the request id and the audit events, through the app on
either storage (docs/adr/0029).

Lines are read as an operator reads them: `configure_logging` with GOTRUE_LOG_FILE in a temporary
directory, one JSON object per line. GoTrue's fields: internal/observability/request-logger.go.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytrue.entrypoints.json_logs import configure_logging
from support.app import make_settings

REQUEST_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class LogLines:
    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(text) for text in self.path.read_text().splitlines()]

    def completed(self) -> list[dict[str, Any]]:
        return [x for x in self.all() if x.get("msg") == "request completed"]

    def last(self) -> dict[str, Any]:
        done = self.completed()
        assert done, self.all()
        return done[-1]


@pytest.fixture
def log_lines(tmp_path: Path) -> Iterator[Callable[[str], LogLines]]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def configure(level_name: str = "info") -> LogLines:
        path = tmp_path / "auth.log"
        configure_logging(make_settings({"GOTRUE_LOG_FILE": str(path), "GOTRUE_LOG_LEVEL": level_name}))
        logging.getLogger("httpx").setLevel(logging.WARNING)  # the test client's own request lines
        return LogLines(path)

    yield configure
    logging.getLogger("httpx").setLevel(logging.NOTSET)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


async def test_a_request_completed_line_has_gotrues_fields(make_api: Any, log_lines: Any) -> None:
    api = await make_api()
    lines = log_lines()
    response = await api.client.get(
        "/settings", headers={"Referer": "http://localhost:3000/account", "X-Forwarded-For": "203.0.113.9, 10.0.0.1"}
    )
    assert response.status_code == 200
    line = lines.last()
    assert set(line) == {
        "component", "duration", "level", "method", "msg", "path", "referer", "remote_addr", "request_id", "status", "time",
    }  # fmt: skip
    assert line["component"] == "api" and line["level"] == "info" and line["msg"] == "request completed"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/settings", 200)
    assert line["remote_addr"] == "203.0.113.9" and line["referer"] == "http://localhost:3000/account"
    assert isinstance(line["duration"], int) and line["duration"] > 0  # nanoseconds, as GoTrue
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line["time"])
    assert REQUEST_UUID.match(line["request_id"])
    assert len(lines.completed()) == 1  # one line per request


async def test_the_referer_is_a_valid_redirect_to_else_a_valid_referer_else_the_site_url(make_api: Any, log_lines: Any) -> None:
    api = await make_api({"GOTRUE_URI_ALLOW_LIST": "https://app.example/**"})
    lines = log_lines()
    await api.client.get("/settings?redirect_to=https://app.example/welcome", headers={"Referer": "http://localhost:3000/a"})
    assert lines.last()["referer"] == "https://app.example/welcome"
    await api.client.get("/settings", headers={"Referer": "https://evil.example/"})
    assert lines.last()["referer"] == "http://localhost:3000"


async def test_the_level_follows_the_status_with_the_error_code_and_message(make_api: Any, log_lines: Any) -> None:
    api = await make_api()
    lines = log_lines()
    response = await api.client.get("/user", headers=api.headers("not-a-jwt"))
    assert response.status_code == 403
    line = lines.last()
    assert line["level"] == "warning" and line["status"] == 403 and line["error_code"] == "bad_jwt"
    assert line["error"].startswith("invalid JWT")
    assert "user_id" not in line  # the token was not verified
    missing = await api.client.get("/no-such-path")  # no route: still logged
    assert missing.status_code == 404
    assert (lines.last()["path"], lines.last()["status"], lines.last()["level"]) == ("/no-such-path", 404, "warning")


async def test_an_unexpected_failure_is_an_error_line_with_the_error_id_as_request_id(make_api: Any, log_lines: Any) -> None:
    api = await make_api({"GOTRUE_API_REQUEST_ID_HEADER": "X-Request-Id"})
    lines = log_lines()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("storage exploded")

    original = api.client.app.state.provided["sign_in_with_password"]
    api.client.app.state.provided["sign_in_with_password"] = broken
    try:
        response = await api.client.post(
            "/token?grant_type=password", json={"email": "a@example.com", "password": "Secret-Passw0rd"},
            headers={**api.headers(), "X-Request-Id": "req-500"},
        )  # fmt: skip
    finally:
        api.client.app.state.provided["sign_in_with_password"] = original
    assert response.status_code == 500 and response.json()["error_id"] == "req-500"
    line = lines.last()
    assert line["level"] == "error" and line["status"] == 500 and line["request_id"] == "req-500"
    assert line["grant_type"] == "password" and line["error_code"] == "unexpected_failure"
    failure = [x for x in lines.all() if x["msg"].startswith("unexpected failure")]
    assert failure and failure[0]["request_id"] == "req-500" and "RuntimeError: storage exploded" == failure[0]["error"]


async def test_health_is_not_logged(make_api: Any, log_lines: Any) -> None:
    api = await make_api()
    lines = log_lines()
    assert (await api.client.get("/health")).status_code == 200
    assert lines.completed() == []


async def test_a_level_above_the_status_builds_no_line(make_api: Any, log_lines: Any) -> None:
    api = await make_api()
    lines = log_lines("warn")
    await api.client.get("/settings")
    assert lines.completed() == []
    await api.client.get("/user", headers=api.headers("not-a-jwt"))
    assert [x["status"] for x in lines.completed()] == [403]
    lines = log_lines("error")
    await api.client.get("/user", headers=api.headers("not-a-jwt"))
    assert [x["status"] for x in lines.completed()] == [403]  # only the earlier one


# --- the request id ---------------------------------------------------------------------------


async def test_without_a_configured_header_each_request_gets_a_fresh_uuid_and_none_is_echoed(make_api: Any, log_lines: Any) -> None:
    api = await make_api()
    lines = log_lines()
    first = await api.client.get("/settings", headers={"X-Request-Id": "ignored"})
    second = await api.client.get("/settings")
    ids = [x["request_id"] for x in lines.completed()]
    assert len(ids) == 2 and ids[0] != ids[1] and all(REQUEST_UUID.match(i) for i in ids)
    assert "x-request-id" not in first.headers and "x-request-id" not in second.headers


async def test_a_configured_header_is_inherited_and_echoed(make_api: Any, log_lines: Any) -> None:
    api = await make_api({"GOTRUE_API_REQUEST_ID_HEADER": "X-Request-Id"})
    lines = log_lines()
    response = await api.client.get("/settings", headers={"x-request-id": "edge-7f3a"})
    assert response.headers["X-Request-Id"] == "edge-7f3a"
    assert lines.last()["request_id"] == "edge-7f3a"


async def test_a_configured_header_missing_from_the_request_is_generated_and_echoed(make_api: Any, log_lines: Any) -> None:
    api = await make_api({"REQUEST_ID_HEADER": "X-Correlation-Id"})
    lines = log_lines()
    response = await api.client.get("/settings")
    echoed = response.headers["x-correlation-id"]
    assert REQUEST_UUID.match(echoed) and lines.last()["request_id"] == echoed
    failed = await api.client.get("/user", headers=api.headers("not-a-jwt"))
    assert failed.headers["x-correlation-id"] != echoed  # one per request
    assert lines.last()["request_id"] == failed.headers["x-correlation-id"]


async def test_every_line_of_a_request_carries_its_id(make_api: Any, log_lines: Any) -> None:
    api = await make_api({"GOTRUE_API_REQUEST_ID_HEADER": "X-Request-Id"})
    lines = log_lines()
    response = await api.client.post(
        "/signup", json={"email": "ids@example.com", "password": "Secret-Passw0rd"}, headers={**api.headers(), "X-Request-Id": "req-signup"}
    )
    assert response.status_code == 200
    ours = [x for x in lines.all() if x.get("request_id") == "req-signup"]
    assert {x["msg"] for x in ours} >= {"audit_event", "request completed"}
    assert all(x.get("request_id") == "req-signup" for x in lines.all() if x["msg"] == "audit_event")


# --- who made the request ---------------------------------------------------------------------


async def test_an_authenticated_request_names_its_user_and_session(make_api: Any, log_lines: Any) -> None:
    api = await make_api()
    lines = log_lines()
    session = (await api.signup("who@example.com", "Secret-Passw0rd")).json()
    assert (await api.client.get("/user", headers=api.headers(session["access_token"]))).status_code == 200
    line = lines.last()
    assert line["path"] == "/user" and line["user_id"] == session["user"]["id"]
    claims = json.loads(__import__("base64").urlsafe_b64decode(session["access_token"].split(".")[1] + "=="))
    assert line["session_id"] == claims["session_id"]
    await api.client.get("/settings", headers=api.headers(session["access_token"]))  # not checked there: not named
    assert "user_id" not in lines.last() and "session_id" not in lines.last()


async def test_an_admin_route_names_the_user_it_acts_on(make_api: Any, log_lines: Any) -> None:
    api = await make_api()
    lines = log_lines()
    user_id = (await api.signup("target@example.com", "Secret-Passw0rd")).json()["user"]["id"]
    assert (await api.client.get(f"/admin/users/{user_id}", headers=api.admin())).status_code == 200
    line = lines.last()
    assert line["user_id"] == user_id and "session_id" not in line  # the service key has no sub or session


async def test_the_completed_line_carries_the_last_audit_event_and_each_has_its_own_line(make_api: Any, log_lines: Any) -> None:
    api = await make_api()
    lines = log_lines()
    session = (await api.signup("audit@example.com", "Secret-Passw0rd")).json()
    refreshed = await api.refresh(session["refresh_token"])
    assert refreshed.status_code == 200
    line = lines.last()
    assert line["grant_type"] == "refresh_token"
    assert line["auth_event"]["action"] == "token_refreshed" and line["auth_event"]["actor_id"] == session["user"]["id"]
    events = [x["auth_audit_event"] for x in lines.all() if x["msg"] == "audit_event" and x["request_id"] == line["request_id"]]
    assert sorted(e["action"] for e in events) == ["token_refreshed", "token_revoked"]
    assert all(e["log_type"] == "token" and e["actor_username"] == "audit@example.com" for e in events)
    assert [e["action"] for e in events] == (await api.audit_actions())[-2:]  # logged as written, after the commit


async def test_a_rolled_back_audit_entry_is_not_logged(make_api: Any, log_lines: Any) -> None:
    api = await make_api()
    lines = log_lines()
    await api.signup("twice@example.com", "Secret-Passw0rd")
    before = await api.audit_actions()
    wrong = await api.password_grant("twice@example.com", "Wrong-Passw0rd")
    assert wrong.status_code == 400
    assert await api.audit_actions() == before
    assert [x for x in lines.all() if x["msg"] == "audit_event" and x["request_id"] == lines.last()["request_id"]] == []
