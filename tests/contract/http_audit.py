"""`GET /admin/audit` (api.md §15.7): the audit trail, newest first, paged and filtered by scope."""

from __future__ import annotations

from typing import Any

import pytest

from support.http import assert_error


async def audit(api: Any, **params: str) -> Any:
    return await api.client.get("/admin/audit", params=params, headers=api.admin())


async def test_entries_are_listed_newest_first_with_their_fields(api: Any) -> None:
    await api.signup(email="alice@example.com")
    await api.signup(email="bob@example.com")
    response = await audit(api)
    assert response.status_code == 200, response.text
    entries = response.json()
    assert response.headers["x-total-count"] == str(len(entries)) == str(len(await api.audit_actions()))
    assert set(entries[0]) == {"id", "payload", "created_at", "ip_address"}
    times = [e["created_at"] for e in entries]
    assert times == sorted(times, reverse=True)
    signups = [e["payload"]["actor_username"] for e in entries if e["payload"]["action"] == "user_signedup"]
    assert signups == ["bob@example.com", "alice@example.com"]


async def test_the_query_filters_by_author_action_and_type(api: Any) -> None:
    await api.signup(email="alice@example.com")
    await api.signup(email="bob@example.com")
    by_author = (await audit(api, query="author:ALICE")).json()
    assert by_author and {e["payload"]["actor_username"] for e in by_author} == {"alice@example.com"}
    by_action = (await audit(api, query="action:signedup")).json()
    assert len(by_action) == 2 and {e["payload"]["action"] for e in by_action} == {"user_signedup"}
    by_type = (await audit(api, query="type:team")).json()
    assert {e["payload"]["log_type"] for e in by_type} == {"team"}
    # ILIKE semantics as GoTrue: `_` matches any one character
    assert len((await audit(api, query="author:b_b@")).json()) == len((await audit(api, query="author:bob@")).json()) > 0
    assert (await audit(api, query="author:nobody")).json() == []
    # an empty text after the scope filters nothing
    assert len((await audit(api, query="author:")).json()) == len((await audit(api)).json())


async def test_pages_and_link_header(api: Any) -> None:
    for n in range(3):
        await api.signup(email=f"u{n}@example.com")
    total = len(await api.audit_actions())
    first = await audit(api, page="1", per_page="2")
    assert len(first.json()) == 2 and first.headers["x-total-count"] == str(total)
    assert 'rel="next"' in first.headers["link"] and 'rel="last"' in first.headers["link"]
    everything = (await audit(api, per_page="100")).json()
    second = (await audit(api, page="2", per_page="2")).json()
    assert [e["id"] for e in second] == [e["id"] for e in everything[2:4]]


@pytest.mark.parametrize("query", ["writer:alice", "alice", "Author:alice", ":x"])
async def test_an_unknown_scope_is_refused(api: Any, query: str) -> None:
    await api.signup(email="alice@example.com")
    before = await api.counts()
    assert_error(await audit(api, query=query), 400, "validation_failed", f"Invalid query scope: {query}")
    assert await api.counts() == before


@pytest.mark.parametrize("params", [{"page": "x"}, {"per_page": "-1"}, {"page": "0"}])
async def test_bad_pagination_is_refused(api: Any, params: dict[str, str]) -> None:
    response = await audit(api, **params)
    assert_error(response, 400, "validation_failed")


async def test_only_admins_read_the_audit_log(api: Any) -> None:
    session = (await api.signup(email="alice@example.com")).json()
    assert_error(await api.client.get("/admin/audit"), 401, "no_authorization")
    assert_error(await api.client.get("/admin/audit", headers=api.headers(session["access_token"])), 403, "not_admin")
    assert_error(await api.client.get("/admin/audit", headers=api.headers(api.anon)), 403, "not_admin")
