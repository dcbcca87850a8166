"""The configured providers by name, built once from the `External` section (the use cases' `ExternalProviders`)."""

from __future__ import annotations

import re

from pytrue.adapters.oauth import claims as claim_maps
from pytrue.adapters.oauth.oidc_providers import (
    APPLE_ISSUERS,
    FACEBOOK_ISSUER,
    GOOGLE_ISSUER,
    KAKAO_ISSUER,
    SNAPCHAT_ISSUER,
    VERCEL_MARKETPLACE_ISSUER,
    IdTokenVerifier,
    unverified_issuer,
)
from pytrue.adapters.oauth.registry import ExternalProvider, ProviderDeps, ProviderUnavailable, build_provider
from pytrue.application.config import External
from pytrue.application.ports import (
    IdTokenRejected,
    IdTokenSignIn,
    OAuth1Provider,
    OAuthProvider,
    ProviderDisabled,
    ProviderNotUsable,
)


class ProviderDirectory:
    def __init__(self, external: External, deps: ProviderDeps) -> None:
        self._external = external
        self._deps = deps
        self._built: dict[str, ExternalProvider] = {}

    def provider(self, name: str) -> ExternalProvider:
        built = self._built.get(name)
        if built is not None:
            return built
        section = self._external.provider(name)
        if section is None:
            raise ProviderNotUsable(f"Provider {name} could not be found")
        try:
            built = build_provider(name, section, self._deps)
        except ProviderUnavailable as problem:
            raise ProviderNotUsable(str(problem)) from None
        self._built[name] = built
        return built

    def code_flow(self, name: str) -> OAuthProvider | OAuth1Provider:
        built = self.provider(name)
        if built.oauth is None:
            raise ProviderNotUsable(built.oauth_unavailable)
        return built.oauth

    def id_token(self, *, provider: str, issuer: str, client_id: str, id_token: str) -> IdTokenSignIn:
        """GoTrue's choice for the id_token grant: by provider name or well-known issuer, then the
        deprecated `client_id` + `issuer` form for an allowed issuer."""
        name, audiences = self._id_token_provider(provider, issuer, id_token)
        if name is None:
            return self._allowed_issuer(provider, issuer, client_id)
        section = self._external.provider(name)
        assert section is not None
        if not section.enabled:
            raise ProviderDisabled(f'Provider (issuer "{self._issuer_of(name, issuer, id_token)}") is not enabled')
        built = self.provider(name)
        if built.id_token is None:
            raise ProviderNotUsable(f"Provider {name} cannot verify ID tokens as configured")
        return IdTokenSignIn(
            provider=name, verifier=built.id_token, audiences=(*section.client_id, *audiences), email_optional=section.email_optional
        )

    def _id_token_provider(self, provider: str, issuer: str, id_token: str) -> tuple[str | None, tuple[str, ...]]:
        external = self._external
        if provider == "apple" or issuer in self._apple_issuers():
            detected = self._detect(id_token, "Apple")
            if detected not in self._apple_issuers():
                raise ProviderNotUsable("Detected ID token issuer is not an Apple ID token issuer")
            if issuer and issuer != detected:
                raise ProviderNotUsable("Provided issuer does not match ID token issuer")
            return "apple", (external.ios_bundle_id,) if external.ios_bundle_id else ()
        if provider == "google" or (issuer and issuer == self._issuer_of("google", "", "")):
            return "google", ()
        if provider == "azure" or (issuer and self._azure_issuer(issuer)):
            detected = self._detect(id_token, "Azure")
            if not self._azure_issuer(detected):
                raise ProviderNotUsable("Detected ID token issuer is not an Azure ID token issuer")
            if issuer and issuer != detected:
                raise ProviderNotUsable("Provided issuer does not match ID token issuer")
            return "azure", ()
        keycloak = external.keycloak
        for name in ("facebook", "keycloak", "kakao", "vercel_marketplace", "snapchat"):
            if provider == name:
                return name, ()
            if name == "keycloak":
                if keycloak.enabled and keycloak.url and issuer == keycloak.url:
                    return name, ()
            elif issuer and issuer == self._issuer_of(name, "", ""):
                return name, ()
        if provider.startswith("custom:"):
            raise ProviderNotUsable("Custom OAuth providers are disabled")
        return None, ()

    def _allowed_issuer(self, provider: str, issuer: str, client_id: str) -> IdTokenSignIn:
        if not issuer or issuer not in self._external.allowed_id_token_issuers:
            raise ProviderNotUsable(f'Custom OIDC provider "{provider}" not allowed')
        verifier = IdTokenVerifier(
            name=issuer, issuer=issuer, client_ids=(client_id,), cache=self._deps.cache, mapper=claim_maps.generic
        )
        return IdTokenSignIn(provider=issuer, verifier=verifier, audiences=(client_id,))

    @staticmethod
    def _detect(id_token: str, family: str) -> str:
        try:
            detected = unverified_issuer(id_token)
        except IdTokenRejected:
            detected = ""
        if not detected:
            raise ProviderNotUsable(f"Unable to detect issuer in ID token for {family} provider")
        return detected

    def _issuer_of(self, name: str, issuer: str, id_token: str) -> str:
        """The issuer GoTrue names in its `provider_disabled` message (and matches a request's `issuer` to)."""
        if name == "keycloak":
            return self._external.keycloak.url
        if name in ("apple", "azure") and id_token:
            try:
                return unverified_issuer(id_token)
            except IdTokenRejected:
                return issuer
        return self._deps.override(name, "issuer", _WELL_KNOWN_ISSUERS.get(name, ""))

    def _apple_issuers(self) -> tuple[str, ...]:
        override = self._deps.override("apple", "issuer", "")
        return (override,) if override else APPLE_ISSUERS

    def _azure_issuer(self, issuer: str) -> bool:
        pattern = self._deps.override("azure", "issuer_pattern", "")
        if pattern:
            return re.match(pattern, issuer) is not None
        return issuer.startswith(("https://login.microsoftonline.com/", "https://sts.windows.net/"))


_WELL_KNOWN_ISSUERS = {
    "google": GOOGLE_ISSUER,
    "facebook": FACEBOOK_ISSUER,
    "kakao": KAKAO_ISSUER,
    "vercel_marketplace": VERCEL_MARKETPLACE_ISSUER,
    "snapchat": SNAPCHAT_ISSUER,
}
