"""Where a flow may send the browser back to: SITE_URL's host or a `GOTRUE_URI_ALLOW_LIST` glob."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class RedirectPolicy:
    """GoTrue's `IsRedirectURLValid` (api.md §14.5); invalid targets fall back, never error."""

    site_url: str
    allow_list: tuple[str, ...] = ()

    def is_valid(self, candidate: str | None) -> bool:
        # Interim rule (same scheme and host as SITE_URL); the allow-list globs come next.
        if not candidate:
            return False
        try:
            base, url = urlsplit(self.site_url), urlsplit(candidate)
            return bool(url.hostname) and url.scheme == base.scheme and url.hostname == base.hostname
        except ValueError:
            return False

    def resolve(self, redirect_to: str | None, referer: str | None = None) -> str:
        """`redirect_to` if valid, else the Referer if valid, else SITE_URL."""
        if self.is_valid(redirect_to):
            return redirect_to  # type: ignore[return-value]
        if self.is_valid(referer):
            return referer  # type: ignore[return-value]
        return self.site_url
