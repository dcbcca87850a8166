"""PYTRUE_VERIFY_CONFIRMATION_PAGE (issue 16.6): a fetched link shows a button; only its POST spends the token."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from contract.email_flows import CONFIRM, follow, fragment, link_query
from support.http import assert_error

PAGE = {**CONFIRM, "PYTRUE_VERIFY_CONFIRMATION_PAGE": "true"}


def hidden_fields(page: str) -> dict[str, str]:
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page)
    }


async def submit(api: Any, link: str, fields: dict[str, str]) -> Any:
    parts = urlsplit(link)
    return await api.client.post(
        f"{parts.path}?{parts.query}",
        content=urlencode(fields),
        headers={**api.headers(), "Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


async def test_fetching_the_link_spends_nothing_and_the_button_signs_in(make_api: Any) -> None:
    api = await make_api(PAGE)
    assert (await api.signup("scan@example.com")).status_code == 200
    link = api.mail("scan@example.com", "confirmation").link
    before = await api.counts()

    for _ in range(3):  # a mail scanner, a preview, the person: none of the GETs spends it
        page = await follow(api, link)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == "default-src 'none'"
        assert page.headers["cache-control"] == "no-store"
    assert await api.counts() == before
    assert "<script" not in page.text
    fields = hidden_fields(page.text)
    assert fields["token"] == link_query(link)["token"] and fields["type"] == "signup"

    finished = await submit(api, link, fields)

    assert finished.status_code == 303, finished.text
    session = fragment(finished.headers["location"])
    assert session["access_token"] and session["type"] == "signup"
    again = await submit(api, link, fields)
    assert fragment(again.headers["location"])["error_code"] == "otp_expired"


async def test_hostile_values_are_escaped_in_the_page(make_api: Any) -> None:
    api = await make_api(PAGE)
    hostile = '"><script>alert(1)</script>'
    page = await api.client.get(
        "/verify", params={"token": hostile, "type": "signup", "redirect_to": hostile}, follow_redirects=False
    )
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert hidden_fields(page.text)["token"] == hostile


async def test_the_form_needs_its_fields(make_api: Any) -> None:
    api = await make_api(PAGE)
    before = await api.counts()
    assert_error(await submit(api, "/verify", {"type": "signup"}), 400, "validation_failed")
    assert_error(await submit(api, "/verify", {"token": "abc"}), 400, "validation_failed")
    assert await api.counts() == before


async def test_off_by_default_the_link_verifies_on_get_as_in_gotrue(make_api: Any) -> None:
    api = await make_api(CONFIRM)
    assert (await api.signup("plain@example.com")).status_code == 200
    response = await follow(api, api.mail("plain@example.com", "confirmation").link)
    assert response.status_code == 303
    assert fragment(response.headers["location"])["access_token"]
    # and a form POST is not a way in: POST /verify stays GoTrue's JSON endpoint
    form = await submit(api, "/verify", {"token": "abc", "type": "signup"})
    assert form.status_code == 400 and form.json()["error_code"] == "bad_json"
