"""A property-based fuzz of every operation in pytrue's OpenAPI document (schemathesis), on both storages.

For each operation, schemathesis draws requests that fit the document and requests that break it
(wrong types, missing or extra fields, odd strings); each is sent as nobody, the anon key, a
signed-up user or the service_role key, in either error-shape version, and once more with a
NUL in one of its body fields or query parameters. Every answer must be below
500, every error must be GoTrue's error body, and a refused request must leave every row count as
it was. Examples are derandomised (set PYTRUE_FUZZ_SEED for another draw) and bounded by
PYTRUE_FUZZ_EXAMPLES per operation and generation mode, so CI time stays fixed.
"""

from __future__ import annotations

import os
import random
from functools import lru_cache
from typing import Any

import pytest
from support.http import without_audit

from pytrue.entrypoints.http.openapi import build_document

FUZZ_EXAMPLES = int(os.environ.get("PYTRUE_FUZZ_EXAMPLES", "12"))
FUZZ_SEED = os.environ.get("PYTRUE_FUZZ_SEED")
WHO = ("nobody", "anon", "user", "admin", "generated")


@lru_cache(maxsize=1)
def _operations() -> dict[str, Any]:
    import schemathesis

    schema = schemathesis.openapi.from_dict(build_document())
    return {f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in schema.get_all_operations())}


def _operation_ids() -> list[str]:
    return sorted(f"{method.upper()} {path}" for path, item in build_document()["paths"].items() for method in item)


@lru_cache(maxsize=None)
def _draw(key: str) -> list[tuple[Any, str, bool]]:
    """Cases for one operation (drawn once, replayed on each storage): (case, who sends it, 2024 error shape?)."""
    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis.errors import Unsatisfiable
    from hypothesis import strategies as st
    from schemathesis.generation import GenerationMode

    drawn: list[tuple[Any, str, bool]] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = st.tuples(
            _operations()[key].as_strategy(generation_mode=mode), st.sampled_from(WHO), st.booleans()
        )

        @settings(
            max_examples=FUZZ_EXAMPLES,
            derandomize=FUZZ_SEED is None,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def collect(example: tuple[Any, str, bool]) -> None:
            drawn.append(example)

        if FUZZ_SEED is not None:
            collect = seed(int(FUZZ_SEED))(collect)
        try:
            collect()
        except Unsatisfiable:  # nothing to break: no parameters and no body
            assert mode is GenerationMode.NEGATIVE
    return drawn


def _request(api: Any, case: Any, who: str, v2024: bool, user_token: str) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="http://testserver.local")
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() not in ("authorization", "connection")}
    if who != "generated":
        token = {"nobody": None, "anon": api.anon, "user": user_token, "admin": api.service}[who]
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
    elif "Authorization" in kwargs["headers"]:
        headers["Authorization"] = kwargs["headers"]["Authorization"]
    if v2024:
        headers["X-Supabase-Api-Version"] = "2024-01-01"
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"].removeprefix("http://testserver.local"),
        "headers": headers,
        "params": kwargs.get("params") or None,
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif isinstance(kwargs.get("data"), (bytes, str)):
        request["content"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        request["data"] = kwargs["data"]
    return request


def _with_nul(value: Any) -> Any:
    """The value with a NUL in it, keeping its JSON type (the strings PostgreSQL cannot store)."""
    if isinstance(value, dict):
        return {**value, "k\x00": "v\x00"}
    if isinstance(value, list):
        return [*value, "\x00"]
    return f"{value}\x00" if isinstance(value, str) else "\x00"


def _hostile_variant(request: dict[str, Any], index: int) -> dict[str, Any] | None:
    """The same request with a NUL in one of its body fields or query parameters, chosen by `index`."""
    for part in ("json", "data", "params"):
        fields = request.get(part)
        if isinstance(fields, dict) and fields:
            key = sorted(fields, key=str)[index % len(fields)]
            return {**request, part: {**fields, key: _with_nul(fields[key])}}
    return None


def assert_gotrue_error(response: Any) -> None:
    body = response.json()
    assert isinstance(body, dict), response.text
    code = response.headers.get("x-sb-error-code")
    if "error" in body and "code" not in body:  # GoTrue's OAuthError (the id_token grant): always 400
        assert response.status_code == 400 and isinstance(body["error"], str), body
        assert set(body) <= {"error", "error_description"} and code is None, body
        return
    if isinstance(body.get("code"), int):
        assert body["code"] == response.status_code, body
        assert isinstance(body.get("error_code"), str) and isinstance(body.get("msg"), str), body
        assert code == body["error_code"], (code, body)
    else:
        assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str), body
        assert code == body["code"], (code, body)


@pytest.mark.parametrize("operation", _operation_ids())
async def test_fuzz_every_operation_answers_below_500_in_gotrue_shape(api: Any, operation: str) -> None:
    signed_up = await api.signup("fuzz-owner@example.com", "s3cret-pass")
    assert signed_up.status_code == 200, signed_up.text
    user_token = signed_up.json()["access_token"]
    cases = list(_draw(operation))
    random.Random(0).shuffle(cases)
    requests = [_request(api, case, who, v2024, user_token) for case, who, v2024 in cases]
    requests += [v for i, r in enumerate(requests) if (v := _hostile_variant(r, i)) is not None]
    for request in requests:
        who = request["headers"].get("Authorization", "nobody")[:20]
        before = await api.counts()
        response = await api.client.request(**request)
        where = f"{operation} as {who}: {request!r}"
        assert response.status_code < 500, f"{where} -> {response.status_code} {response.text}"
        if response.status_code >= 400:
            assert_gotrue_error(response)
            after = await api.counts()
            body = response.json()
            if body.get("error_code", body.get("code")) == "user_already_exists":
                # GoTrue audits a repeated sign-up of a confirmed account before refusing it
                after, before = without_audit(after), without_audit(before)
            assert after == before, f"refused but wrote rows: {where} -> {response.text}"
