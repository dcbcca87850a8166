"""The configured providers by name, built once from the `External` section (the use cases' `ExternalProviders`)."""

from __future__ import annotations

from pytrue.adapters.oauth.registry import ExternalProvider, ProviderDeps, ProviderUnavailable, build_provider
from pytrue.application.config import External
from pytrue.application.ports import OAuth1Provider, OAuthProvider, ProviderNotUsable


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
