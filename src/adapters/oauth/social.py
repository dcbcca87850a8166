"""OAuth 2.0 providers with a profile API: endpoints, default scopes and GoTrue's profile mapping."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from pytrue.adapters.oauth.base import OAuth2Provider, choose_host
from pytrue.adapters.oauth.http import as_dict, integer_text, string
from pytrue.application.ports import ProviderTokens
from pytrue.domain.external import Claims, ProviderEmail, UserProvidedData


def _primary(email: str, verified: bool) -> tuple[ProviderEmail, ...]:
    return (ProviderEmail(email, verified, True),) if email else ()


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class GitHub(OAuth2Provider):
    """`/user` and `/user/emails` (scope `user:email`); GitHub Enterprise: `url`, API under /api/v3."""

    default_scopes = ("user:email",)

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        auth = choose_host(url, "github.com")
        api = choose_host(url, "api.github.com")
        if not api.endswith("api.github.com"):
            api += "/api/v3"
        return {"auth_url": auth + "/login/oauth/authorize", "token_url": auth + "/login/oauth/access_token", "api": api}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        user = as_dict(await self.http.get_json(self.api + "/user", bearer=tokens.access_token), "user", self.http)
        emails = await self.http.get_json(self.api + "/user/emails", bearer=tokens.access_token)
        if not isinstance(emails, list):
            raise self.http.error("unexpected /user/emails (not a JSON array)", reason="malformed")
        uid, login, name = integer_text(user.get("id")), string(user.get("login")), string(user.get("name"))
        claims = Claims(
            iss=self.api, sub=uid, name=name, preferred_username=login, avatar_url=string(user.get("avatar_url")),
            full_name=name, provider_id=uid, user_name=login,
        )  # fmt: skip
        found = tuple(
            ProviderEmail(string(e.get("email")), e.get("verified") is True, e.get("primary") is True)
            for e in map(_d, emails)
            if string(e.get("email"))
        )
        return UserProvidedData(emails=found, claims=claims)


class GitLab(OAuth2Provider):
    """`/api/v4/user` (its email verified when `confirmed_at` is set) and `/api/v4/user/emails` (unverified)."""

    default_scopes = ("read_user",)

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        host = choose_host(url, "gitlab.com")
        return {"auth_url": host + "/oauth/authorize", "token_url": host + "/oauth/token", "api": host}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        user = as_dict(await self.http.get_json(self.api + "/api/v4/user", bearer=tokens.access_token), "user", self.http)
        extra = await self.http.get_json(self.api + "/api/v4/user/emails", bearer=tokens.access_token)
        emails = [ProviderEmail(string(e.get("email"))) for e in map(_d, extra if isinstance(extra, list) else []) if string(e.get("email"))]
        if string(user.get("email")):
            emails.append(ProviderEmail(string(user.get("email")), bool(string(user.get("confirmed_at"))), True))
        uid, name, avatar = integer_text(user.get("id")), string(user.get("name")), string(user.get("avatar_url"))
        claims = Claims(iss=self.api, sub=uid, name=name, picture=avatar, avatar_url=avatar, full_name=name, provider_id=uid)
        return UserProvidedData(emails=tuple(emails), claims=claims)


class Bitbucket(OAuth2Provider):
    default_scopes = ("account", "email")

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        auth = choose_host(url, "bitbucket.org")
        return {"auth_url": auth + "/site/oauth2/authorize", "token_url": auth + "/site/oauth2/access_token", "api": choose_host(url, "api.bitbucket.org") + "/2.0"}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        user = as_dict(await self.http.get_json(self.api + "/user", bearer=tokens.access_token), "user", self.http)
        listing = as_dict(await self.http.get_json(self.api + "/user/emails", bearer=tokens.access_token), "emails", self.http)
        values = listing.get("values") if isinstance(listing.get("values"), list) else []
        emails = tuple(
            ProviderEmail(string(e.get("email")), e.get("is_confirmed") is True, e.get("is_primary") is True)
            for e in map(_d, values)
            if string(e.get("email"))
        )
        uid, name, avatar = string(user.get("uuid")), string(user.get("display_name")), string(_d(user.get("avatar")).get("href"))
        claims = Claims(iss=self.api, sub=uid, name=name, picture=avatar, avatar_url=avatar, full_name=name, provider_id=uid)
        return UserProvidedData(emails=emails, claims=claims)


class Discord(OAuth2Provider):
    default_scopes = ("email", "identify")

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        api = choose_host(url, "discord.com") + "/api"
        return {"auth_url": api + "/oauth2/authorize", "token_url": api + "/oauth2/token", "api": api}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        user = as_dict(await self.http.get_json(self.api + "/users/@me", bearer=tokens.access_token), "user", self.http)
        uid, avatar, discriminator = string(user.get("id")), string(user.get("avatar")), string(user.get("discriminator"))
        if avatar:
            extension = "gif" if avatar.startswith("a_") else "png"
            avatar_url = f"https://cdn.discordapp.com/avatars/{uid}/{avatar}.{extension}"
        else:
            if not discriminator.lstrip("+-").isdigit():
                raise self.http.error(f"discriminator {discriminator!r} is not a number", reason="malformed")
            avatar_url = f"https://cdn.discordapp.com/embed/avatars/{int(discriminator) % 5}.png"
        username = string(user.get("username"))
        claims = Claims(
            iss=self.api, sub=uid, name=f"{username}#{discriminator}", picture=avatar_url, avatar_url=avatar_url,
            full_name=username, provider_id=uid, custom_claims={"global_name": string(user.get("global_name"))},
        )  # fmt: skip
        return UserProvidedData(emails=_primary(string(user.get("email")), user.get("verified") is True), claims=claims)


class Facebook(OAuth2Provider):
    """Graph `/me` with `appsecret_proof` = HMAC-SHA256(app secret, access token); emails verified."""

    default_scopes = ("email",)

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        return {
            "auth_url": choose_host(url, "www.facebook.com") + "/dialog/oauth",
            "token_url": choose_host(url, "graph.facebook.com") + "/oauth/access_token",
            "api": choose_host(url, "graph.facebook.com") + "/me?fields=email,first_name,last_name,name,picture",
        }

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        proof = hmac.new(self.client.secret.encode(), tokens.access_token.encode(), hashlib.sha256).hexdigest()
        user = as_dict(await self.http.get_json(self.api + "&appsecret_proof=" + proof, bearer=tokens.access_token), "user", self.http)
        name = f"{string(user.get('first_name'))} {string(user.get('last_name'))}".strip()
        alias, uid = string(user.get("name")), string(user.get("id"))
        picture = string(_d(_d(user.get("picture")).get("data")).get("url"))
        claims = Claims(iss=self.api, sub=uid, name=name, nickname=alias, picture=picture, slug=alias, avatar_url=picture, full_name=name, provider_id=uid)
        return UserProvidedData(emails=_primary(string(user.get("email")), True), claims=claims)


class Figma(OAuth2Provider):
    default_scopes = ("current_user:read",)

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        api = choose_host(url, "api.figma.com")
        return {"auth_url": choose_host(url, "www.figma.com") + "/oauth", "token_url": api + "/v1/oauth/token", "api": api}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        user = as_dict(await self.http.get_json(self.api + "/v1/me", bearer=tokens.access_token), "user", self.http)
        uid, email, handle = string(user.get("id")), string(user.get("email")), string(user.get("handle"))
        claims = Claims(
            iss=self.api, sub=uid, name=handle, email=email, email_verified=True, avatar_url=string(user.get("img_url")),
            full_name=handle, provider_id=uid,
        )  # fmt: skip
        return UserProvidedData(emails=_primary(email, True), claims=claims)


class Fly(OAuth2Provider):
    default_scopes = ("read",)

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        host = choose_host(url, "api.fly.io")
        return {"auth_url": host + "/oauth/authorize", "token_url": host + "/oauth/token", "api": host}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        info = as_dict(await self.http.get_json(self.api + "/oauth/token/info", bearer=tokens.access_token), "token info", self.http)
        uid, email = string(info.get("user_id")), string(info.get("email"))
        custom = {
            "resource_owner_id": string(info.get("resource_owner_id")),
            "organizations": [{"id": string(o.get("id")), "role": string(o.get("role"))} for o in map(_d, info.get("organizations") or [])],
            "application": info.get("application") if isinstance(info.get("application"), dict) else None,
            "scope": info.get("scope") if isinstance(info.get("scope"), list) else None,
            "created_at": info.get("created_at") if isinstance(info.get("created_at"), int) else 0,
        }
        claims = Claims(iss=self.api, sub=uid, full_name=string(info.get("user_name")), email=email, email_verified=True, provider_id=uid, custom_claims=custom)
        return UserProvidedData(emails=_primary(email, True), claims=claims)


class Kakao(OAuth2Provider):
    """`/v2/user/me`; the address is verified only when both `is_email_verified` and `is_email_valid`."""

    default_scopes = ("account_email", "profile_image", "profile_nickname")

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        auth = choose_host(url, "kauth.kakao.com")
        return {"auth_url": auth + "/oauth/authorize", "token_url": auth + "/oauth/token", "api": choose_host(url, "kapi.kakao.com")}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        user = as_dict(await self.http.get_json(self.api + "/v2/user/me", bearer=tokens.access_token), "user", self.http)
        account = _d(user.get("kakao_account"))
        profile = _d(account.get("profile"))
        uid, nickname = integer_text(user.get("id")), string(profile.get("nickname"))
        verified = account.get("is_email_verified") is True and account.get("is_email_valid") is True
        claims = Claims(
            iss=self.api, sub=uid, name=nickname, preferred_username=nickname, avatar_url=string(profile.get("profile_image_url")),
            full_name=nickname, provider_id=uid, user_name=nickname,
        )  # fmt: skip
        return UserProvidedData(emails=_primary(string(account.get("email")), verified), claims=claims)


class Notion(OAuth2Provider):
    """`/v1/users/me` with `Notion-Version: 2021-08-16`; the bot owner is the person; emails verified."""

    default_scopes = ()

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        host = choose_host(url, "api.notion.com")
        return {"auth_url": host + "/v1/oauth/authorize", "token_url": host + "/v1/oauth/token", "api": host}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        body = await self.http.get_json(self.api + "/v1/users/me", bearer=tokens.access_token, headers={"Notion-Version": "2021-08-16"})
        user = _d(_d(_d(as_dict(body, "user", self.http).get("bot")).get("owner")).get("user"))
        uid, name, avatar = string(user.get("id")), string(user.get("name")), string(user.get("avatar_url"))
        claims = Claims(iss=self.api, sub=uid, name=name, picture=avatar, avatar_url=avatar, full_name=name, provider_id=uid)
        return UserProvidedData(emails=_primary(string(_d(user.get("person")).get("email")), True), claims=claims)


class SlackOidc(OAuth2Provider):
    """Sign in with Slack (OpenID): the person from `openid.connect.userInfo`."""

    default_scopes = ("profile", "email", "openid")

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        host = choose_host(url, "slack.com")
        return {"auth_url": host + "/openid/connect/authorize", "token_url": host + "/api/openid.connect.token", "api": host + "/api"}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        user = as_dict(await self.http.get_json(self.api + "/openid.connect.userInfo", bearer=tokens.access_token), "user", self.http)
        uid, name, avatar = string(user.get("https://slack.com/user_id")), string(user.get("name")), string(user.get("picture"))
        claims = Claims(
            iss=self.api, sub=uid, name=name, picture=avatar, avatar_url=avatar, full_name=name, provider_id=uid,
            custom_claims={"https://slack.com/team_id": string(user.get("https://slack.com/team_id"))},
        )  # fmt: skip
        return UserProvidedData(emails=_primary(string(user.get("email")), user.get("email_verified") is True), claims=claims)


class Snapchat(OAuth2Provider):
    """Snap Kit's GraphQL `/v1/me`; the issuer GoTrue records is its token URL."""

    default_scopes = (
        "https://auth.snapchat.com/oauth2/api/user.external_id",
        "https://auth.snapchat.com/oauth2/api/user.display_name",
        "https://auth.snapchat.com/oauth2/api/user.bitmoji.avatar",
    )
    issuer = "https://accounts.snapchat.com/accounts/oauth2/token"

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        auth = choose_host(url, "accounts.snapchat.com")
        return {"auth_url": auth + "/accounts/oauth2/auth", "token_url": auth + "/accounts/oauth2/token", "api": choose_host(url, "kit.snapchat.com") + "/v1/me"}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        query = {"query": "{me { externalId displayName bitmoji { avatar id } email } }"}
        body = as_dict(await self.http.get_json(self.api, bearer=tokens.access_token, params=query), "user", self.http)
        me = _d(_d(body.get("data")).get("me"))
        uid, name, avatar = string(me.get("externalId")), string(me.get("displayName")), string(_d(me.get("bitmoji")).get("avatar"))
        claims = Claims(iss=self.issuer, sub=uid, name=name, picture=avatar, slug=name, avatar_url=avatar, full_name=name, provider_id=uid)
        return UserProvidedData(emails=_primary(string(me.get("email")), True), claims=claims)


class Spotify(OAuth2Provider):
    """`/v1/me`; the largest image is the avatar; Spotify addresses count as unverified."""

    default_scopes = ("user-read-email",)

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        auth = choose_host(url, "accounts.spotify.com")
        return {"auth_url": auth + "/authorize", "token_url": auth + "/api/token", "api": choose_host(url, "api.spotify.com/v1")}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        user = as_dict(await self.http.get_json(self.api + "/me", bearer=tokens.access_token), "user", self.http)
        images = [i for i in map(_d, user.get("images") or []) if i]
        avatar = ""
        if images:
            def area(image: dict[str, Any]) -> int:
                h, w = image.get("height"), image.get("width")
                return (h if isinstance(h, int) else 0) * (w if isinstance(w, int) else 0)

            largest = images[0]
            for image in images:
                if area(image) > area(largest):
                    largest = image
            avatar = string(largest.get("url"))
        uid, name = string(user.get("id")), string(user.get("display_name"))
        claims = Claims(iss=self.api, sub=uid, name=name, picture=avatar, avatar_url=avatar, full_name=name, provider_id=uid)
        return UserProvidedData(emails=_primary(string(user.get("email")), False), claims=claims)


class Twitch(OAuth2Provider):
    """Helix `/helix/users` with the `Client-Id` header; the first user is the person."""

    default_scopes = ("user:read:email",)

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        auth = choose_host(url, "id.twitch.tv")
        return {"auth_url": auth + "/oauth2/authorize", "token_url": auth + "/oauth2/token", "api": choose_host(url, "api.twitch.tv")}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        body = await self.http.get_json(self.api + "/helix/users", bearer=tokens.access_token, headers={"Client-Id": self.client.client_id})
        users = as_dict(body, "users", self.http).get("data")
        if not isinstance(users, list) or not users:
            raise self.http.error("unable to find user with twitch provider", reason="missing")
        user = _d(users[0])
        uid, login, display = string(user.get("id")), string(user.get("login")), string(user.get("display_name"))
        picture = string(user.get("profile_image_url"))
        custom = {
            "broadcaster_type": string(user.get("broadcaster_type")),
            "description": string(user.get("description")),
            "type": string(user.get("type")),
            "offline_image_url": string(user.get("offline_image_url")),
            "view_count": user.get("view_count") if isinstance(user.get("view_count"), int) else 0,
        }
        claims = Claims(
            iss=self.api, sub=uid, picture=picture, name=login, nickname=display, custom_claims=custom, slug=display,
            avatar_url=picture, full_name=login, provider_id=uid,
        )  # fmt: skip
        return UserProvidedData(emails=_primary(string(user.get("email")), True), claims=claims)


class WorkOS(OAuth2Provider):
    """The profile comes in the token response (`profile`); `workos_provider` picks the connection."""

    default_scopes = ()

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        api = choose_host(url, "api.workos.com")
        return {"auth_url": api + "/sso/authorize", "token_url": api + "/sso/token", "api": api}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        profile = _d(tokens.extra.get("profile"))
        uid = string(profile.get("id"))
        name = f"{string(profile.get('first_name'))} {string(profile.get('last_name'))}".strip()
        custom = {"connection_id": string(profile.get("connection_id")), "organization_id": string(profile.get("organization_id"))}
        claims = Claims(iss=self.api, sub=uid, name=name, custom_claims=custom, full_name=name, provider_id=uid)
        return UserProvidedData(emails=_primary(string(profile.get("email")), True), claims=claims)


class Zoom(OAuth2Provider):
    """`/v2/users/me`; the address counts as verified unless a Zoom-login (100) account says `verified: 0`."""

    default_scopes = ()

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        auth = choose_host(url, "zoom.us") + "/oauth"
        return {"auth_url": auth + "/authorize", "token_url": auth + "/token", "api": choose_host(url, "api.zoom.us") + "/v2"}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        user = as_dict(await self.http.get_json(self.api + "/users/me", bearer=tokens.access_token), "user", self.http)
        verified = string(user.get("login_type")) != "100" or user.get("verified") not in (0, None)
        uid, avatar = string(user.get("id")), string(user.get("pic_url"))
        name = f"{string(user.get('first_name'))} {string(user.get('last_name'))}".strip()
        claims = Claims(iss=self.api, sub=uid, name=name, picture=avatar, avatar_url=avatar, full_name=name, provider_id=uid)
        return UserProvidedData(emails=_primary(string(user.get("email")), verified), claims=claims)


class X(OAuth2Provider):
    """X (OAuth 2.0 with PKCE required): `/2/users/me`; `confirmed_email` is verified."""

    default_scopes = ("users.email", "tweet.read", "users.read", "offline.access")
    requires_pkce = True

    @staticmethod
    def endpoints(url: str) -> dict[str, str]:
        api = choose_host(url, "api.x.com")
        return {"auth_url": choose_host(url, "x.com") + "/i/oauth2/authorize", "token_url": api + "/2/oauth2/token", "api": api}

    def __init__(self, *, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        url = self.api + "/2/users/me?user.fields=id,name,username,confirmed_email,profile_image_url,url,created_at"
        user = _d(as_dict(await self.http.get_json(url, bearer=tokens.access_token), "user", self.http).get("data"))
        uid, name, username, picture = string(user.get("id")), string(user.get("name")), string(user.get("username")), string(user.get("profile_image_url"))
        claims = Claims(
            iss=self.api, sub=uid, name=name, preferred_username=username, picture=picture, profile="https://x.com/" + username,
            website=string(user.get("url")), custom_claims={"created_at": string(user.get("created_at"))}, avatar_url=picture,
            full_name=name, provider_id=uid, user_name=username,
        )  # fmt: skip
        return UserProvidedData(emails=_primary(string(user.get("confirmed_email")), True), claims=claims)
