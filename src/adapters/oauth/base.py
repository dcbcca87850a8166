"""The two generic adapters: an OAuth 2.0 provider with a profile API, and an OpenID Connect provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from pytrue.adapters.oauth import claims as claim_maps
from pytrue.adapters.oauth.claims import ClaimsMapper
from pytrue.adapters.oauth.http import ProviderHttp
from pytrue.adapters.oauth.oauth2 import ClientAuth, OAuth2Client
from pytrue.adapters.oauth.oidc import OidcProviderCache
from pytrue.application.ports import AuthorizationRequest, IdTokenCheck, IdTokenRejected, ProviderTokens
from pytrue.domain.external import UserProvidedData


def choose_host(base: str, default_host: str) -> str:
    """GoTrue's `chooseHost`: the configured base without one trailing slash, else https://default."""
    if not base:
        return "https://" + default_host
    return base[:-1] if base.endswith("/") else base


class OAuth2Provider:
    """The authorization-code flow against fixed endpoints; subclasses read the person in `profile`."""

    requires_pkce = False
    form_post = False

    def __init__(self, *, name: str, client: OAuth2Client, http: ProviderHttp) -> None:
        self.name = name
        self.client = client
        self.http = http

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        return self.client.authorization_url(request)

    async def exchange_code(self, code: str, *, code_verifier: str = "") -> ProviderTokens:
        return await self.client.exchange_code(self.http, code, code_verifier=code_verifier)

    async def user_data(self, tokens: ProviderTokens, callback: Mapping[str, str] | None = None) -> UserProvidedData:
        data = await self.profile(tokens)
        if not data.subject:
            raise self.http.error("profile without a user id", reason="missing")
        return data

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        raise NotImplementedError


class OidcProvider(OAuth2Provider):
    """An OpenID Connect provider: endpoints from discovery (or given), the person from the verified
    id_token (audience: the first client id), else from the userinfo endpoint. Also verifies
    id_tokens for the id_token grant, accepting any of `client_ids` as audience."""

    def __init__(
        self,
        *,
        name: str,
        issuer: str,
        client_ids: tuple[str, ...],
        secret: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        cache: OidcProviderCache,
        http: ProviderHttp,
        mapper: ClaimsMapper = claim_maps.generic,
        discovery_url: str = "",
        auth_url: str = "",
        token_url: str = "",
        userinfo_url: str = "",
        client_auth: ClientAuth = "auto",
        skip_issuer_check: bool = False,
        extra_auth_params: tuple[tuple[str, str], ...] = (),
    ) -> None:
        client = OAuth2Client(
            client_id=client_ids[0] if client_ids else "",
            secret=secret,
            redirect_uri=redirect_uri,
            auth_url=auth_url,
            token_url=token_url,
            scopes=scopes,
            client_auth=client_auth,
            extra_auth_params=extra_auth_params,
        )
        super().__init__(name=name, client=client, http=http)
        self.issuer = issuer
        self.client_ids = client_ids
        self.cache = cache
        self.mapper = mapper
        self.discovery_url = discovery_url
        self.userinfo_url = userinfo_url
        self.skip_issuer_check = skip_issuer_check

    async def _resolved(self) -> OAuth2Client:
        if self.client.auth_url and self.client.token_url:
            return self.client
        metadata = await self.cache.metadata(self.issuer, discovery_url=self.discovery_url)
        return replace(
            self.client,
            auth_url=self.client.auth_url or metadata.authorization_endpoint,
            token_url=self.client.token_url or metadata.token_endpoint,
        )

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        return (await self._resolved()).authorization_url(request)

    async def exchange_code(self, code: str, *, code_verifier: str = "") -> ProviderTokens:
        return await (await self._resolved()).exchange_code(self.http, code, code_verifier=code_verifier)

    async def profile(self, tokens: ProviderTokens) -> UserProvidedData:
        if tokens.id_token:
            check = IdTokenCheck(audiences=(self.client.client_id,), access_token=tokens.access_token)
            return await self._verified(tokens.id_token, check)
        return await self.userinfo(tokens)

    async def userinfo(self, tokens: ProviderTokens) -> UserProvidedData:
        url = self.userinfo_url or (await self.cache.metadata(self.issuer, discovery_url=self.discovery_url)).userinfo_endpoint
        if not url:
            raise self.http.error("no id_token in the token response and no userinfo endpoint", reason="missing")
        body = await self.http.get_json(url, bearer=tokens.access_token)
        if not isinstance(body, dict):
            raise self.http.error("unexpected userinfo (not a JSON object)", reason="malformed")
        return self.userinfo_data(body)

    def userinfo_data(self, body: Mapping[str, object]) -> UserProvidedData:
        return claim_maps.generic(body)

    async def verify_id_token(self, id_token: str, check: IdTokenCheck) -> UserProvidedData:
        if not check.audiences:
            check = replace(check, audiences=self.client_ids)
        data = await self._verified(id_token, check)
        if not data.subject:
            raise IdTokenRejected("Missing sub claim in id_token")
        return data

    async def _verified(self, id_token: str, check: IdTokenCheck) -> UserProvidedData:
        raw = await self.cache.verify(
            id_token, issuer=self.issuer, check=check, skip_issuer_check=self.skip_issuer_check, discovery_url=self.discovery_url
        )
        return self.mapper(raw)
