"""Twitter's OAuth 1.0a (RFC 5849, HMAC-SHA1): request token, authenticate redirect, access token,
`verify_credentials` with the email."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pytrue.adapters.oauth.base import choose_host
from pytrue.adapters.oauth.http import ProviderHttp, as_dict, string
from pytrue.application.ports import AuthorizationRequest, ProviderTokens
from pytrue.domain.external import Claims, ProviderEmail, UserProvidedData


def percent(value: str) -> str:
    """RFC 5849 §3.6: everything but unreserved characters, UTF-8, upper-case hex."""
    return quote(value, safe="-._~")


def signature_base(method: str, url: str, params: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    base_url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))
    query = parse_qsl(parts.query, keep_blank_values=True)
    normalized = "&".join(f"{k}={v}" for k, v in sorted((percent(k), percent(v)) for k, v in [*params, *query]))
    return "&".join((method.upper(), percent(base_url), percent(normalized)))


def hmac_sha1_signature(base: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{percent(consumer_secret)}&{percent(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base.encode(), hashlib.sha1).digest()).decode()


class Twitter:
    """`twitter`: consumer key and secret are GOTRUE_EXTERNAL_TWITTER_CLIENT_ID / _SECRET; the
    callback carries the flow state (`<redirect_uri>?state=<id>`), as GoTrue sends it."""

    def __init__(
        self,
        *,
        name: str,
        consumer_key: str,
        consumer_secret: str,
        redirect_uri: str,
        http: ProviderHttp,
        url: str = "",
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
        timestamp: Callable[[], int] = lambda: int(time.time()),
    ) -> None:
        self.name = name
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.redirect_uri = redirect_uri
        self.http = http
        self.host = choose_host(url, "api.twitter.com")
        self.userinfo_url = self.host + "/1.1/account/verify_credentials.json"
        self._nonce = nonce
        self._timestamp = timestamp

    def authorization_header(self, method: str, url: str, *, token: str = "", token_secret: str = "", extra: Mapping[str, str] | None = None, body: Mapping[str, str] | None = None) -> str:
        oauth = {
            "oauth_consumer_key": self.consumer_key,
            "oauth_nonce": self._nonce(),
            "oauth_signature_method": "HMAC-SHA1",
            "oauth_timestamp": str(self._timestamp()),
            "oauth_version": "1.0",
            **(extra or {}),
        }
        if token:
            oauth["oauth_token"] = token
        base = signature_base(method, url, [*oauth.items(), *(body or {}).items()])
        oauth["oauth_signature"] = hmac_sha1_signature(base, self.consumer_secret, token_secret)
        return "OAuth " + ", ".join(f'{percent(k)}="{percent(v)}"' for k, v in sorted(oauth.items()))

    async def _form_post(self, url: str, header: str) -> dict[str, str]:
        response = await self.http.request("POST", url, headers={"Authorization": header})
        self.http.check_status(response)
        return dict(parse_qsl(response.text, keep_blank_values=True))

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        callback = self.redirect_uri + ("&" if "?" in self.redirect_uri else "?") + "state=" + request.state
        url = self.host + "/oauth/request_token"
        answer = await self._form_post(url, self.authorization_header("POST", url, extra={"oauth_callback": callback}))
        token = answer.get("oauth_token", "")
        if not token or answer.get("oauth_callback_confirmed") != "true":
            raise self.http.error("request token refused (no oauth_token or callback not confirmed)", reason="malformed")
        return self.host + "/oauth/authenticate?" + urlencode({"oauth_token": token})

    async def access_token(self, oauth_token: str, oauth_verifier: str) -> ProviderTokens:
        url = self.host + "/oauth/access_token"
        header = self.authorization_header("POST", url, token=oauth_token, extra={"oauth_verifier": oauth_verifier})
        answer = await self._form_post(url, header)
        token = answer.get("oauth_token", "")
        if not token:
            raise self.http.error("access token response without oauth_token", reason="malformed")
        extra = {k: v for k, v in answer.items() if k != "oauth_token"}
        return ProviderTokens(access_token=token, extra=extra)

    async def user_data(self, tokens: ProviderTokens, callback: Mapping[str, str] | None = None) -> UserProvidedData:
        params = {"include_entities": "false", "skip_status": "true", "include_email": "true"}
        header = self.authorization_header(
            "GET", self.userinfo_url, token=tokens.access_token, token_secret=str(tokens.extra.get("oauth_token_secret", "")), body=params
        )
        body = await self.http.get_json(self.userinfo_url, headers={"Authorization": header}, params=params)
        user = as_dict(body, "user", self.http)
        uid, name, username, avatar = string(user.get("id_str")), string(user.get("name")), string(user.get("screen_name")), string(user.get("profile_image_url_https"))
        if not uid:
            raise self.http.error("profile without a user id", reason="missing")
        claims = Claims(
            iss=self.userinfo_url, sub=uid, name=name, picture=avatar, preferred_username=username, user_name=username,
            full_name=name, avatar_url=avatar, provider_id=uid,
        )  # fmt: skip
        email = string(user.get("email"))
        return UserProvidedData(emails=(ProviderEmail(email, True, True),) if email else (), claims=claims)
