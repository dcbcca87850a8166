"""A local Twitter API for OAuth 1.0a sign-in: request token, access token and verify_credentials,
each refusing a request whose HMAC-SHA1 signature (RFC 5849) does not check out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from support.fake_http import FakeHttpServer, Reply, Seen
from support.oauth_providers import query_of

KEY, SECRET = "consumer-key", "consumer secret/+"
REDIRECT = "http://localhost:9999/callback"
STATE = "2d5b7a1c-0a5e-4e0f-9d0c-3d1c8b7a6f55"
REQUEST_TOKEN, REQUEST_SECRET = "req-token", "req-secret"
ACCESS, ACCESS_SECRET = "access-token", "access secret"
VERIFIER = "the-verifier"
USER = {"id_str": "12", "screen_name": "jack", "name": "jack dorsey", "profile_image_url_https": "https://pbs.twimg.com/j.jpg", "email": "jack@x.example"}


def enc(value: str) -> str:
    return quote(value, safe="-._~")


class TwitterApi:
    """Request token, access token and verify_credentials, each refusing a bad OAuth 1.0a signature."""

    def __init__(self) -> None:
        self.server = FakeHttpServer(self.handle)
        self.callbacks: list[str] = []

    def oauth(self, seen: Seen) -> dict[str, str] | None:
        header = seen.headers.get("authorization", "")
        if not header.startswith("OAuth "):
            return None
        fields = {unquote(k): unquote(v) for k, v in re.findall(r'([\w%]+)="([^"]*)"', header)}
        signature = fields.pop("oauth_signature", "")
        url = urlsplit(seen.path)
        params = sorted((enc(k), enc(v)) for k, v in [*fields.items(), *parse_qsl(url.query, keep_blank_values=True)])
        base = "&".join([seen.method, enc(self.server.url + url.path), enc("&".join(f"{k}={v}" for k, v in params))])
        token_secret = {REQUEST_TOKEN: "", ACCESS: ACCESS_SECRET}.get(fields.get("oauth_token", ""), "")
        key = f"{enc(SECRET)}&{enc(token_secret)}".encode()
        expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha1).digest()).decode()
        ok = hmac.compare_digest(signature, expected) and fields["oauth_consumer_key"] == KEY and fields["oauth_signature_method"] == "HMAC-SHA1"
        return fields if ok else None

    def handle(self, seen: Seen) -> Reply:
        fields = self.oauth(seen)
        if fields is None:
            return Reply(401, {"errors": [{"code": 32, "message": "Could not authenticate you."}]})
        path = urlsplit(seen.path).path
        if path == "/oauth/request_token":
            self.callbacks.append(fields["oauth_callback"])
            return Reply(200, f"oauth_token={REQUEST_TOKEN}&oauth_token_secret={REQUEST_SECRET}&oauth_callback_confirmed=true")
        if path == "/oauth/access_token":
            if (fields.get("oauth_token"), fields.get("oauth_verifier")) != (REQUEST_TOKEN, VERIFIER):
                return Reply(401, "Invalid request token.")
            return Reply(200, f"oauth_token={ACCESS}&oauth_token_secret={quote(ACCESS_SECRET)}&user_id=12&screen_name=jack")
        if path == "/1.1/account/verify_credentials.json" and fields.get("oauth_token") == ACCESS:
            assert query_of(seen.path) == {"include_entities": "false", "skip_status": "true", "include_email": "true"}
            return Reply(200, USER)
        return Reply(404, {"errors": [{"code": 34}]})
