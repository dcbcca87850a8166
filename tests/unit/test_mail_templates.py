"""Remote body templates (GOTRUE_MAILER_TEMPLATES_*): fetch, cache, retry and fall back.

A real HTTP server runs in a thread; the store's clock is a counter the test moves.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pytrue.adapters.mail.templates import DEFAULT_BODIES, TemplateStore, default_body
from pytrue.application.ports import MAIL_CONFIRMATION, MAIL_RECOVERY

DATA = {"ConfirmationURL": "http://x/verify?token=t&type=signup", "Email": "ada@example.com", "Token": "123456"}


class TemplateServer:
    def __init__(self) -> None:
        self.pages: dict[str, tuple[int, bytes]] = {}
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                owner.hits.append(self.path)
                status, body = owner.pages.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[TemplateServer]:
    running = TemplateServer()
    running.start()
    try:
        yield running
    finally:
        running.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def store(server: TemplateServer, clock: Clock, url: str = "/confirm.html", **options: object) -> TemplateStore:
    return TemplateStore(
        site_url=server.base,
        urls={MAIL_CONFIRMATION: url},
        clock=clock,
        max_age=timedelta(minutes=10),
        retry_interval=timedelta(seconds=10),
        **options,  # type: ignore[arg-type]
    )


async def body(templates: TemplateStore) -> str:
    return (await templates.body(MAIL_CONFIRMATION)).render(DATA, html=True)


async def test_relative_url_is_fetched_from_site_url_and_cached(server: TemplateServer) -> None:
    server.pages["/confirm.html"] = (200, b"<p>Hello {{ .Email }}: {{ .Token }}</p>")
    clock = Clock()
    templates = store(server, clock)

    assert await body(templates) == "<p>Hello ada@example.com: 123456</p>"
    clock.advance(599)
    server.pages["/confirm.html"] = (200, b"<p>changed</p>")
    assert await body(templates) == "<p>Hello ada@example.com: 123456</p>"
    assert server.hits == ["/confirm.html"]

    clock.advance(2)  # older than max_age: fetched again
    assert await body(templates) == "<p>changed</p>"
    assert server.hits == ["/confirm.html", "/confirm.html"]


async def test_absolute_url_and_kinds_without_url_use_the_built_in(server: TemplateServer) -> None:
    server.pages["/abs.html"] = (200, b"absolute {{ .Token }}")
    templates = store(server, Clock(), url=server.base + "/abs.html")
    assert await body(templates) == "absolute 123456"
    assert await templates.body(MAIL_RECOVERY) is default_body(MAIL_RECOVERY)
    assert server.hits == ["/abs.html"]


async def test_failures_keep_the_previous_template_and_retry_after_the_interval(server: TemplateServer) -> None:
    server.pages["/confirm.html"] = (200, b"first {{ .Token }}")
    clock = Clock()
    templates = store(server, clock)
    assert await body(templates) == "first 123456"

    clock.advance(601)
    server.pages["/confirm.html"] = (500, b"oops")
    assert await body(templates) == "first 123456"
    assert len(server.hits) == 2
    clock.advance(5)  # within the retry interval: no new request
    assert await body(templates) == "first 123456"
    assert len(server.hits) == 2

    clock.advance(6)
    server.pages["/confirm.html"] = (200, b"second")
    assert await body(templates) == "second"
    assert len(server.hits) == 3


async def test_server_down_falls_back_to_the_built_in_then_recovers(server: TemplateServer) -> None:
    clock = Clock()
    server.stop()
    templates = store(server, clock)
    expected_default = default_body(MAIL_CONFIRMATION).render(DATA, html=True)
    assert "123456" in expected_default

    assert await body(templates) == expected_default

    # the same port may not be free again: the operator's server comes back elsewhere
    fresh = TemplateServer()
    fresh.pages["/confirm.html"] = (200, b"back {{ .Token }}")
    fresh.start()
    try:
        templates.site_url = fresh.base
        clock.advance(5)
        assert await body(templates) == expected_default  # still inside the retry interval
        assert fresh.hits == []
        clock.advance(6)
        assert await body(templates) == "back 123456"
    finally:
        fresh.stop()


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ((200, b"<p>" + b"x" * 2000 + b"</p>"), "oversize"),
        ((200, b"{{ if .Email }}never closed"), "malformed"),
        ((200, b"{{ range .Data }}{{ end }}"), "unsupported"),
        ((200, b"\xff\xfe not utf-8"), "not utf-8"),
        ((404, b"missing"), "404"),
        ((302, b""), "redirect"),
    ],
)
async def test_unusable_templates_fall_back_to_the_built_in(
    server: TemplateServer, page: tuple[int, bytes], reason: str
) -> None:
    server.pages["/confirm.html"] = page
    templates = store(server, Clock(), max_size=1000)
    assert await templates.body(MAIL_CONFIRMATION) is default_body(MAIL_CONFIRMATION), reason


async def test_malformed_subjects_fall_back_to_the_default() -> None:
    templates = TemplateStore(subjects={MAIL_CONFIRMATION: "{{ if .Email }}", MAIL_RECOVERY: "Reset for {{ .Email }}"})
    assert templates.subject(MAIL_CONFIRMATION).render(DATA) == "Confirm your email address"
    assert templates.subject(MAIL_RECOVERY).render(DATA) == "Reset for ada@example.com"


def test_every_default_body_carries_the_code_and_all_but_reauthentication_the_link() -> None:
    for kind in DEFAULT_BODIES:
        if kind.endswith("_notification"):  # security notifications carry neither (tests/contract/security_notifications.py)
            rendered = default_body(kind).render(DATA, html=True)
            assert "123456" not in rendered and "verify?token" not in rendered, kind
            continue
        rendered = default_body(kind).render(DATA, html=True)
        assert "123456" in rendered, kind
        assert ("http://x/verify?token=t&amp;type=signup" in rendered) == (kind != "reauthentication"), kind
