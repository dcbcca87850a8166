"""The verify links emailed to users and returned by `generate_link` (password-and-otp.md §4)."""

from __future__ import annotations

from urllib.parse import quote_plus, urljoin, urlsplit, urlunsplit

DEFAULT_VERIFY_PATH = "/verify"


def encode_redirect(redirect_to: str) -> str:
    """GoTrue inserts `redirect_to` verbatim unless it holds `&`, `=` or `#`; then it is query-escaped."""
    if any(c in redirect_to for c in "&=#"):
        return quote_plus(redirect_to, safe="")
    return redirect_to


def verify_link(api_external_url: str, url_path: str, token: str, link_type: str, redirect_to: str) -> str:
    """`url_path` resolved against API_EXTERNAL_URL (a full URL replaces it), its query replaced by ours."""
    target = urljoin(api_external_url, url_path or DEFAULT_VERIFY_PATH)
    parts = urlsplit(target)
    query = f"token={quote_plus(token, safe='')}&type={quote_plus(link_type, safe='')}&redirect_to={encode_redirect(redirect_to)}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
