"""Leaked-password checks (GOTRUE_PASSWORD_HIBP_*) on either storage, against a local server that
speaks the Pwned Passwords range API: a pwned password is `weak_password` with the `pwned` reason
and nothing written; only the 5-character SHA-1 prefix leaves the server; an outage lets passwords
through (GoTrue's default) or refuses them (`FAIL_CLOSED`); the Bloom cache spares known hashes."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from support.fake_http import FakeHttpServer, Reply, Seen

PWNED = "password123"
SAFE = "a-phrase-nobody-has-leaked-9f3"
PWNED_MESSAGE = "Password is known to be weak and easy to guess, please choose a different one."


def sha1(password: str) -> str:
    return hashlib.sha1(password.encode()).hexdigest().upper()


class RangeApi:
    """`GET /range/{prefix}`: every suffix of the prefix with its count, padded with count-0 rows."""

    def __init__(self, pwned: tuple[str, ...] = (PWNED,)) -> None:
        self.server = FakeHttpServer(self.handle)
        self.hashes = {sha1(p) for p in pwned}
        self.answer: Reply | None = None

    def handle(self, seen: Seen) -> Reply:
        if self.answer is not None:
            return self.answer
        prefix = seen.path.removeprefix("/range/")
        lines = [f"{h[5:]}:{42}" for h in self.hashes if h.startswith(prefix)]
        lines += [f"{sha1(SAFE)[5:]}:0"] if prefix == sha1(SAFE)[:5] else []  # padding naming the safe one
        lines += ["0" * 35 + ":0", "F" * 35 + ":3"]
        return Reply(200, "\r\n".join(lines).encode(), headers={"Content-Type": "text/plain"})

    @property
    def seen(self) -> list[Seen]:
        return self.server.requests


@contextmanager
def range_api() -> Iterator[RangeApi]:
    fake = RangeApi()
    with fake.server:
        yield fake


def _env(fake: RangeApi, **extra: str) -> dict[str, str]:
    return {"GOTRUE_PASSWORD_HIBP_ENABLED": "true", "PYTRUE_PASSWORD_HIBP_API_URL": fake.server.url + "/range/", **extra}


async def _snapshot(api: Any) -> Any:
    return await api.counts(), await api.users()


async def test_a_pwned_password_is_refused_and_only_the_prefix_leaves(make_api: Any) -> None:
    with range_api() as fake:
        api = await make_api(_env(fake))
        before = await _snapshot(api)
        refused = await api.signup(password=PWNED)
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert body["error_code"] == "weak_password" and body["weak_password"] == {"reasons": ["pwned"]}
        assert body["msg"] == PWNED_MESSAGE
        assert await _snapshot(api) == before
        assert [s.path for s in fake.seen] == [f"/range/{sha1(PWNED)[:5]}"]
        request = fake.seen[0]
        assert request.body == b"" and request.headers.get("add-padding") == "true"
        assert request.headers.get("user-agent") == "https://github.com/supabase/gotrue"
        everything = request.path + str(request.headers)
        assert sha1(PWNED)[5:] not in everything and PWNED not in everything

        both = await api.signup(password="pass")  # too short and (say) pwned too
        assert both.status_code == 422 and "length" in both.json()["weak_password"]["reasons"]

        ok = await api.signup(password=SAFE)  # its suffix is only a padding row (count 0)
        assert ok.status_code == 200, ok.text


async def test_password_changes_and_admin_updates_are_checked_and_sign_ins_reported(make_api: Any) -> None:
    with range_api() as fake:
        api = await make_api(_env(fake))
        session = (await api.signup(password=SAFE)).json()
        before = await _snapshot(api)
        change = await api.client.put("/user", json={"password": PWNED}, headers=api.headers(session["access_token"]))
        assert change.status_code == 422 and change.json()["weak_password"] == {"reasons": ["pwned"]}, change.text
        admin = await api.client.put(f"/admin/users/{session['user']['id']}", json={"password": PWNED}, headers=api.admin())
        assert admin.status_code == 422 and admin.json()["error_code"] == "weak_password", admin.text
        assert await _snapshot(api) == before

        # a user whose password was set before the check: signs in, told it is weak (GoTrue's weak_password)
        legacy = await make_api(share_with=api)
        created = await legacy.client.post(
            "/admin/users", json={"email": "old@example.com", "password": PWNED, "email_confirm": True}, headers=legacy.admin()
        )
        assert created.status_code == 200, created.text
        signed_in = await api.password_grant("old@example.com", PWNED)
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["weak_password"] == {"message": PWNED_MESSAGE, "reasons": ["pwned"]}


async def test_an_outage_lets_passwords_through_unless_fail_closed(make_api: Any) -> None:
    with range_api() as fake:
        fake.answer = Reply(503, b"unavailable")
        open_api = await make_api(_env(fake))
        assert (await open_api.signup(password=PWNED)).status_code == 200
        closed_api = await make_api(_env(fake, GOTRUE_PASSWORD_HIBP_FAIL_CLOSED="true"))
        before = await _snapshot(closed_api)
        refused = await closed_api.signup("closed@example.com", password=SAFE)
        assert refused.status_code == 500 and refused.json()["error_code"] == "unexpected_failure"
        assert refused.json()["msg"] == "Unable to perform password strength check with HaveIBeenPwned.org."
        assert await _snapshot(closed_api) == before
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        down = await make_api({**_env(fake), "PYTRUE_PASSWORD_HIBP_API_URL": f"http://127.0.0.1:{port}/range/",
                               "GOTRUE_PASSWORD_HIBP_FAIL_CLOSED": "true"})  # fmt: skip
        assert (await down.signup("down@example.com", password=SAFE)).status_code == 500


async def test_the_bloom_cache_answers_known_pwned_hashes_without_a_request(make_api: Any) -> None:
    with range_api() as fake:
        api = await make_api(_env(fake, GOTRUE_PASSWORD_HIBP_BLOOM_ENABLED="true"))
        assert (await api.signup(password=PWNED)).status_code == 422
        assert (await api.signup("second@example.com", password=PWNED)).status_code == 422
        assert len(fake.seen) == 1
        assert (await api.signup("third@example.com", password=SAFE)).status_code == 200
        assert len(fake.seen) == 2  # a password not found pwned is asked about every time


async def test_the_check_is_off_by_default(make_api: Any) -> None:
    api = await make_api()
    assert (await api.signup(password=PWNED)).status_code == 200
