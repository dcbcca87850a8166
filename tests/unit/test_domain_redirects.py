"""redirect_to validation (api.md §14.5): GoTrue's rules, gobwas globs, and hostile URLs.

The properties use ada-url, a WHATWG URL parser (what browsers implement), as the oracle for the
host a browser would actually go to.
"""

from __future__ import annotations

import ipaddress

import ada_url
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytrue.domain.redirects import RedirectPolicy, glob_matches

SITE = "https://example.com"
API_BASE = "https://api.example.net/auth/v1/verify"  # where a relative Location would resolve

# (glob, the hosts it is meant to allow, as a glob over host[:port])
ALLOW = (
    ("https://*.example.com", "*.example.com"),
    ("https://**.good.com/**", "**.good.com"),
    ("http://localhost:3000/**", "localhost:3000"),
    ("https://app.{one,two}.io/cb", "app.{one,two}.io"),
    ("myapp://**", None),
    ("com.my_app://callback", None),
)
POLICY = RedirectPolicy(SITE, tuple(glob for glob, _ in ALLOW))


@pytest.mark.parametrize(
    ("candidate", "valid"),
    [
        # same host as SITE_URL: scheme and port must match (any path and query)
        ("https://example.com", True),
        ("https://example.com/welcome?x=1#y", True),
        ("HTTPS://example.com/path", True),  # Go lower-cases the scheme
        ("http://example.com", False),
        ("https://example.com:8443/", False),
        ("https://example.com:443/", False),  # Go compares port strings: "443" != ""
        ("https://EXAMPLE.com", False),  # Go compares hostnames exactly
        # allow list (spec examples)
        ("https://a.example.com", True),
        ("https://a.b.example.com", False),
        ("https://a.example.com/x", False),
        ("https://a.example.com#fragment", True),  # matched without its fragment
        ("http://localhost:3000/", True),
        ("http://localhost:3000/any/depth?q=1", True),
        ("http://localhost:3001/", False),
        ("https://x.y.good.com/cb", True),
        ("https://app.one.io/cb", True),
        ("https://app.three.io/cb", False),
        ("myapp://callback", True),
        ("myapp://", True),
        ("com.my_app://callback", True),  # Go cannot parse it; GoTrue still lets it reach the list
        ("otherapp://callback", False),
        # IP literals: loopback only, allow list not consulted
        ("http://127.0.0.1:5555/cb", True),
        ("http://127.9.9.9/", True),
        ("http://[::1]:1234/", True),
        ("http://[0:0:0:0:0:0:0:1]:12345/path", True),
        ("http://[::ffff:127.0.0.1]/", True),
        ("http://10.0.0.1/", False),
        ("http://[2001:db8::1]/", False),
        ("http://123/", False),  # all digits: a decimal IP to browsers
        ("http://123?.localhost:3000/path", False),
        ("http://123.123.123.123?localhost:3000/path", False),
        ("http://[65e7:9410:d8b6:e227:58cd:e55b:8fc0:206d]?localhost:3000/path", False),
        ("http://65e7:9410:d8b6:e227:58cd:e55b:8fc0:206d?localhost:3000/path", False),
        ("myapp://127.0.0.1/cb", True),
        ("myapp://10.1.2.3/cb", False),
        # empty
        ("", False),
        (None, False),
    ],
)
def test_gotrue_rules(candidate: str | None, valid: bool) -> None:
    assert POLICY.is_valid(candidate) is valid


@pytest.mark.parametrize(
    "candidate",
    [
        "https://example.com@evil.com",  # userinfo: the host is evil.com
        "https://example.com:443@evil.com/",
        "https://evil.com%40example.com",  # escaped ASCII in a host: Go refuses to parse
        "https://evil.com%2eexample.com",
        "https://ex%61mple.com",
        "https://example.com\\@evil.com",  # Go: invalid userinfo; a browser reads \ as / (host example.com)
        "https://evil.com\\.example.com",
        "https:\\\\evil.com",
        "https:/\\evil.com",
        "https:evil.com",  # browsers read special-scheme authority without slashes
        "https:/evil.com",
        "https:///evil.com",
        "//evil.com",  # protocol-relative: resolved against the API host by the browser
        "/welcome",
        "\\\\evil.com",
        "javascript:alert(document.domain)//https://example.com",
        "JavaScript://example.com/%0Aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        " https://example.com",  # whitespace and control characters
        "https://example.com ",
        "\thttps://127.1/",
        "https://exa\tmple.com",
        "https://example.com\n.evil.com",
        "https://example.com\x00.evil.com",
        "https://example.com\x7f",
        "http://0x7f.1/",  # browsers read these as IPv4 addresses Go does not
        "http://0x7f000001/",
        "http://127.1/",
        "http://0177.0.0.1/",
        "http://2130706433/",
        "http://1.2.3.4./",
        "http://[::1%25eth0]/",
        "http://[evil.com]/",
        "https://evil?.example.com",  # `*` would match `evil?` and the query would supply the suffix
        "https://evil.com?.example.com",
        "https://evil.com/.good.com/",  # `**` would match `evil.com/`
        "https://evil.com?.good.com/",
        "https://evil.com#.good.com/",
        "https://ｅｘａｍｐｌｅ.com",  # fullwidth: a browser maps it to example.com, Go does not
        "https://exämple.com",
        "https://%C3%A9vil.com",
        "https://example.com%25",
        "HTTPS://a.example.com",  # globs match the raw text case-sensitively
        "https://a.example.com.",
        "ftp://evil.com\\@example.com",
    ],
)
def test_hostile_urls_are_invalid(candidate: str) -> None:
    assert not POLICY.is_valid(candidate)


def test_userinfo_before_the_site_host_keeps_the_site_host() -> None:
    # Go and browsers agree: the host is example.com (what is before @ is a user name).
    assert POLICY.is_valid("https://evil.com@example.com/")
    assert ada_url.URL("https://evil.com@example.com/").hostname == "example.com"


def test_loopback_site_url_ignores_the_port() -> None:
    policy = RedirectPolicy("http://localhost:3000")
    assert policy.is_valid("http://localhost:5173/cb")
    assert not policy.is_valid("https://localhost:5173/cb")  # scheme must still match
    policy = RedirectPolicy("http://127.0.0.1:3000")
    assert policy.is_valid("http://127.0.0.1:4000/")


def test_custom_scheme_site_url() -> None:
    policy = RedirectPolicy("myapp://home")
    assert policy.is_valid("myapp://home/settings")
    assert not policy.is_valid("myapp://elsewhere")
    assert not policy.is_valid("https://home")


def test_unparsable_site_url_makes_everything_invalid() -> None:
    policy = RedirectPolicy("https://exa mple.com\x00", ("**",))
    assert not policy.is_valid("https://a.example.com")
    assert policy.resolve("https://a.example.com") == "https://exa mple.com\x00"


def test_allow_all_glob_still_refuses_what_the_rules_refuse() -> None:
    policy = RedirectPolicy(SITE, ("**",))
    assert policy.is_valid("https://anything.example.org/x?y#z")
    assert policy.is_valid("myapp://x")
    for hostile in ("//evil.com", "javascript:alert(1)", "http://10.0.0.1/", "http://0x7f.1/", "https:evil.com"):
        assert not policy.is_valid(hostile), hostile


def test_glob_host_part_ignores_userinfo_in_the_pattern() -> None:
    policy = RedirectPolicy(SITE, ("https://user@*.example.org/**",))
    assert policy.is_valid("https://user@a.example.org/cb")
    assert not policy.is_valid("https://user@evil.com/.example.org/")


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("https://*.example.com", "https://a.example.com", True),
        ("https://*.example.com", "https://.example.com", True),
        ("https://*.example.com", "https://a.b.example.com", False),
        ("https://*.example.com", "https://a.example.com/x", False),
        ("http://localhost:3000/**", "http://localhost:3000/a/b.c", True),
        ("http://localhost:3000/**", "http://localhost:3000", False),
        ("http://localhost:8000/*", "http://localhost:8000/path?param=1", True),
        ("http://localhost:8000/*", "http://localhost:8000/path/to/page", False),
        ("a?c", "abc", True),
        ("a?c", "a.c", False),
        ("a?c", "a/c", False),
        ("a?c", "ac", False),
        ("[abc]x", "bx", True),
        ("[abc]x", "dx", False),
        ("[a-c]x", "cx", True),
        ("[a-c]x", "dx", False),
        ("[!a]x", "bx", True),
        ("[!a]x", "ax", False),
        ("{a,b{c,d}}x", "bdx", True),
        ("{a,b{c,d}}x", "bx", False),
        ("{,a}x", "x", True),
        ("a,b", "a,b", True),  # a comma outside braces is literal
        ("a}b", "a}b", True),
        ("\\*x", "*x", True),
        ("\\*x", "ax", False),
        ("a\\?b", "a?b", True),
        ("a\\?b", "axb", False),
        ("a.b", "aXb", False),  # no regex leaking: '.' is literal
        ("a+b", "a+b", True),
        ("(a|b)", "(a|b)", True),
        ("^$", "^$", True),
        ("myapp://**", "myapp://x/y.z", True),
        ("*", "javascript:alert(1)", True),  # gobwas semantics; the policy refuses such URLs anyway
    ],
)
def test_gobwas_glob_semantics(pattern: str, text: str, matches: bool) -> None:
    assert glob_matches(pattern, text) is matches


@pytest.mark.parametrize("pattern", ["{a,b", "[abc", "[a-", "x[!"])
def test_malformed_globs_are_rejected(pattern: str) -> None:
    with pytest.raises(ValueError, match="invalid allow-list pattern"):
        RedirectPolicy(SITE, (pattern,))


def test_pathological_candidates_are_matched_without_backtracking() -> None:
    # A backtracking regex needs minutes for these (exponential in the number of `**`); the
    # NFA matcher is linear, so these return at once with the right answer.
    policy = RedirectPolicy(SITE, ("https://**.good.com/**", "https://**a**a**a**b.com/"))
    assert not policy.is_valid("https://" + "a." * 4000 + "x")
    assert not policy.is_valid("https://" + "a" * 8000 + ".com/")
    assert policy.is_valid("https://" + "a." * 4000 + "good.com/" + "x/" * 4000)
    assert policy.is_valid("https://" + "a" * 4000 + "b.com/")


def test_resolve_falls_back_to_referer_then_site_url() -> None:
    assert POLICY.resolve("https://a.example.com", "https://example.com/r") == "https://a.example.com"
    assert POLICY.resolve("https://evil.com", "https://example.com/r") == "https://example.com/r"
    assert POLICY.resolve("https://evil.com", "https://evil.com/r") == SITE
    assert POLICY.resolve(None, None) == SITE


# --- properties --------------------------------------------------------------------------------

# repeated entries weight the draw towards URLs that get past the first checks
SCHEMES = ("https",) * 6 + ("HTTPS", "http", "http", "hTTp", "myapp", "javascript", "ftp", "ws", "com.my_app", "")
JOINS = ("://",) * 8 + (":", ":/", ":\\\\", ":/\\", "://\\", ":///", "//", "")
USERINFO = ("",) * 6 + ("evil.com@", "example.com@", "u:p@", "example.com\\@", "a.example.com@", "x%40y@")
HOSTS = (
    "example.com", "EXAMPLE.com", "a.example.com", "evil.com", "a.b.example.com", "x.good.com", "good.com",
    "evil", "localhost", "127.0.0.1", "127.1", "0x7f.1", "2130706433", "10.0.0.1", "[::1]", "[::ffff:127.0.0.1]",
    "[2001:db8::1]", "%65vil.com", "ex%2eample.com", "ｅｘａｍｐｌｅ.com", "app.one.io", "xn--exmple-cua.com", "",
)  # fmt: skip
PORTS = ("", "", "", ":3000", ":443", ":", ":99999", ":x")
TAILS = (
    "", "/", "/cb", "?.example.com", "?x=1", "#.example.com", "/.example.com/", "\\.example.com", "\\@example.com",
    ".example.com", "@example.com", "?.good.com/", "/.good.com/", ".good.com/", "%2f", "/\\evil.com", " ", "\t",
)  # fmt: skip
NOISE = st.text(alphabet="aeZ09.:/\\@?#%[]{}*-_~ \t\n\x00é", max_size=6)


@st.composite
def hostile_urls(draw: st.DrawFn) -> str:
    parts = [
        draw(st.sampled_from(SCHEMES)),
        draw(st.sampled_from(JOINS)),
        draw(st.sampled_from(USERINFO)),
        draw(st.sampled_from(HOSTS)),
        draw(st.sampled_from(PORTS)),
        draw(st.sampled_from(TAILS)),
    ]
    if draw(st.integers(0, 3)) == 0:
        index = draw(st.integers(0, len(parts)))
        parts.insert(index, draw(NOISE))
    return "".join(parts)


def _browser_host(url: str) -> tuple[str, str] | None:
    """(scheme, host) a browser resolves the Location to, or None when it cannot parse it."""
    try:
        parsed = ada_url.URL(url, base=API_BASE)
    except ValueError:
        return None
    return parsed.protocol.rstrip(":"), parsed.host


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1 : host.index("]")]
    if name == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


@settings(max_examples=1500, deadline=None)
@given(hostile_urls())
def test_accepted_urls_send_the_browser_only_to_allowed_hosts(url: str) -> None:
    if not POLICY.is_valid(url):
        return
    browser = _browser_host(url)
    if browser is None or browser[0] not in ("http", "https", "ws", "wss", "ftp"):
        # custom schemes go to apps: an allow-listed app scheme, or a loopback IP (GoTrue's IP rule)
        assert browser is None or browser[0] in ("myapp", "com.my_app") or _loopback(browser[1]), (url, browser)
        return
    _, host = browser
    host_allowed = (
        host == "example.com"
        or _loopback(host)
        or any(host_glob and glob_matches(glob, url.partition("#")[0]) and glob_matches(host_glob, host)
               for glob, host_glob in ALLOW)
    )  # fmt: skip
    assert host_allowed, (url, host)
    assert host != "api.example.net", url  # never a relative URL


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab.:/-\\?*", max_size=12))
def test_star_never_crosses_a_separator(middle: str) -> None:
    assert glob_matches("x*y", f"x{middle}y") is ("." not in middle and "/" not in middle)
    assert glob_matches("x**y", f"x{middle}y")
    assert glob_matches("x?y", f"x{middle}y") is (len(middle) == 1 and middle not in "./")


@settings(max_examples=800, deadline=None)
@given(st.one_of(st.none(), hostile_urls()), st.one_of(st.none(), hostile_urls()))
def test_resolve_returns_a_valid_candidate_or_site_url(redirect_to: str | None, referer: str | None) -> None:
    result = POLICY.resolve(redirect_to, referer)
    assert result in (redirect_to, referer, SITE)
    if result == redirect_to:
        assert POLICY.is_valid(redirect_to)
    elif result == referer:
        assert POLICY.is_valid(referer) and not POLICY.is_valid(redirect_to)
    else:
        assert not POLICY.is_valid(redirect_to) and not POLICY.is_valid(referer)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="abcXYZ/?=&.-", max_size=10).map(lambda tail: "/" + tail),
    st.sampled_from(["https", "HTTPS", "Https", "hTTPs"]),
)
def test_scheme_is_case_insensitive_host_is_exact(path: str, scheme: str) -> None:
    policy = RedirectPolicy(SITE)
    assert policy.is_valid(f"{scheme}://example.com{path}") == policy.is_valid(f"https://example.com{path}")
    assert policy.is_valid(f"https://example.com{path}")
    assert not policy.is_valid(f"{scheme}://Example.COM{path}")
