"""External sign-in with the official JS client (`@supabase/auth-js`) against `pytrue serve`: the
scenarios in `js/oauth_scenario.mjs` (signInWithOAuth implicit and PKCE, signInWithIdToken,
linkIdentity through the provider and with an id_token, getUserIdentities, unlinkIdentity).

This test prepares the people the provider stand-ins sign in (`login_hint` personas) and the
id_tokens the keycloak stand-in signs, then checks the script's exit status and summary.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from e2e_support import run_auth_js

JS_DIR = Path(__file__).resolve().parent / "js"
SCENARIO_TIMEOUT = 60


def _github(oauth_server: Any, label: str) -> dict[str, str]:
    name = f"gh-{label}-{uuid.uuid4().hex[:8]}"
    email = f"{name}@example.com"
    oauth_server.github.personas[name] = oauth_server.github_persona(uuid.uuid4().int % 10**9, name, email)
    return {"name": name, "email": email}


def _id_token(oauth_server: Any, email: str) -> dict[str, str]:
    keycloak = oauth_server.keycloak
    nonce = uuid.uuid4().hex
    claims = keycloak.claims(sub=str(uuid.uuid4()), email=email, email_verified=True, nonce=hashlib.sha256(nonce.encode()).hexdigest())
    return {"token": keycloak.sign(claims), "nonce": nonce, "email": email}


def test_auth_js_external_sign_in(oauth_server: Any, node_executable: str, auth_js_installed: Path) -> None:
    kc_name = "kc-link-" + uuid.uuid4().hex[:8]
    oauth_server.keycloak.personas[kc_name] = {
        "claims": {"sub": str(uuid.uuid4()), "email": f"{kc_name}@example.com", "email_verified": True}
    }
    fixture = {
        "personas": {
            "implicit": _github(oauth_server, "implicit"),
            "pkce": _github(oauth_server, "pkce"),
            "linker": _github(oauth_server, "linker"),
            "keycloakLink": {"name": kc_name},
        },
        "idTokens": {
            "signIn": _id_token(oauth_server, f"native-{uuid.uuid4().hex[:8]}@example.com"),
            "link": _id_token(oauth_server, f"linked-{uuid.uuid4().hex[:8]}@example.com"),
        },
    }
    summary = run_auth_js(
        node_executable, "oauth_scenario.mjs", JS_DIR, oauth_server.server, SCENARIO_TIMEOUT, PYTRUE_OAUTH_FIXTURE=json.dumps(fixture)
    )
    assert summary["failed"] == {}
    assert set(summary["passed"]) == {"signInWithOAuthImplicit", "signInWithOAuthPkce", "signInWithIdToken", "linkAndUnlinkIdentities"}
