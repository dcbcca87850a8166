"""Where a flow may send the browser back to: SITE_URL's host or a `GOTRUE_URI_ALLOW_LIST` glob.

GoTrue's `IsRedirectURLValid` (api.md §14.5) judges URLs with Go's `net/url` parser, while the
browser that follows the redirect uses the WHATWG URL standard. The two disagree on hostile
input, so this module re-implements the parts of Go's parser GoTrue relies on (`_go_parse`) and
adds checks that close the gaps where a browser would land on a host the rules never looked at.
Where we differ from GoTrue, we are stricter; every difference is listed in `RedirectPolicy`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from itertools import product

# --- Go's net/url, as far as IsRedirectURLValid depends on it --------------------------------

_HEX = frozenset("0123456789abcdefABCDEF")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# ASCII bytes Go allows unescaped in a host (shouldEscape(c, encodeHost) is false for them).
_HOST_ASCII = _ALNUM | frozenset("!$&'()*+,;=:[]<>\"-_.~")
_USERINFO = _ALNUM | frozenset("-._:~!$&'()*+,;=%@")
_SCHEME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SCHEME_REST = _SCHEME_START | frozenset("0123456789+-.")


class _GoParseError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class _GoURL:
    scheme: str  # lower-cased, as Go does
    opaque: bool  # `scheme:rest` without `//`
    authority: str | None  # raw text between `//` and the path (None: no authority)
    host: str  # decoded host[:port] after the last `@`, as Go's URL.Host

    @property
    def hostname(self) -> str:
        return _split_host_port(self.host)[0]

    @property
    def port(self) -> str:
        return _split_host_port(self.host)[1]


def _valid_optional_port(port: str) -> bool:
    return port == "" or (port[0] == ":" and all("0" <= c <= "9" for c in port[1:]))


def _split_host_port(host_port: str) -> tuple[str, str]:
    host, port = host_port, ""
    colon = host.rfind(":")
    if colon != -1 and _valid_optional_port(host[colon:]):
        host, port = host[:colon], host[colon + 1 :]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def _unescape(text: str, *, host: bool = False) -> str:
    """Go's `unescape`: percent-decode, rejecting bad escapes (and, in a host, escaped ASCII)."""
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            if i + 2 >= len(text) or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
                raise _GoParseError("bad escape")
            value = int(text[i + 1 : i + 3], 16)
            if host and value < 0x80 and text[i : i + 3] != "%25":
                raise _GoParseError("escaped ASCII in host")
            out.append(value)
            i += 3
            continue
        if host and ord(char) < 0x80 and char not in _HOST_ASCII:
            raise _GoParseError("invalid character in host")
        out += char.encode("utf-8")
        i += 1
    return out.decode("utf-8", errors="surrogateescape")


def _parse_host(host: str) -> str:
    if host.startswith("["):
        close = host.rfind("]")
        if close < 0:
            raise _GoParseError("missing ']' in host")
        if not _valid_optional_port(host[close + 1 :]):
            raise _GoParseError("invalid port")
        literal = host[1:close]
        # Stricter than Go: the brackets must hold an IPv6 address (no zone), as browsers require.
        if "%" in literal:
            raise _GoParseError("IPv6 zone")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise _GoParseError("invalid IPv6 literal") from None
    else:
        colon = host.rfind(":")
        if colon != -1 and not _valid_optional_port(host[colon:]):
            raise _GoParseError("invalid port")
    return _unescape(host, host=True)


def _go_parse(raw: str) -> _GoURL:
    """`url.Parse` of Go's standard library for the fields IsRedirectURLValid reads."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise _GoParseError("control character")
    rest, _, fragment = raw.partition("#")
    _unescape(fragment)
    scheme = ""
    for index, char in enumerate(rest):
        if char in _SCHEME_START:
            continue
        if char in _SCHEME_REST:
            if index == 0:
                break
            continue
        if char == ":":
            if index == 0:
                raise _GoParseError("missing protocol scheme")
            scheme, rest = rest[:index].lower(), rest[index + 1 :]
        break
    if rest.endswith("?") and rest.count("?") == 1:
        rest = rest[:-1]
    else:
        rest = rest.partition("?")[0]
    if not rest.startswith("/"):
        if scheme:
            return _GoURL(scheme=scheme, opaque=True, authority=None, host="")
        if ":" in rest.partition("/")[0]:
            raise _GoParseError("first path segment in URL cannot contain colon")
    authority: str | None = None
    host = ""
    if (scheme or not rest.startswith("///")) and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        at = authority.rfind("@")
        host = _parse_host(authority[at + 1 :])
        if at >= 0:
            userinfo = authority[:at]
            if any(c not in _USERINFO for c in userinfo):
                raise _GoParseError("invalid userinfo")
            for part in userinfo.split(":", 1):
                _unescape(part)
    _unescape(rest)
    return _GoURL(scheme=scheme, opaque=False, authority=authority, host=host)


# --- gobwas/glob with separators '.' and '/' -------------------------------------------------

_SEPARATORS = "./"
_MAX_ALTERNATIVES = 4096


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Wild:
    kind: str  # "star" (`*`), "super" (`**`) or "one" (`?` or a character class)
    regex: str = ""  # for "one": a Python regex matching exactly one character


@dataclass(frozen=True, slots=True)
class _Alt:
    options: tuple[tuple[_Text | _Wild | _Alt, ...], ...]


_Node = _Text | _Wild | _Alt


class _GlobLexer:
    """gobwas/glob's lexer and parser: `*`, `**`, `?`, `[...]`, `[!...]`, `[a-z]`, `{a,b}`, `\\`."""

    def __init__(self, pattern: str) -> None:
        self._text = pattern
        self._pos = 0

    def parse(self) -> tuple[_Node, ...]:
        nodes = self._sequence(in_terms=False)
        if self._pos != len(self._text):  # pragma: no cover - _sequence consumes everything outside terms
            raise ValueError("unexpected input")
        return nodes

    def _sequence(self, *, in_terms: bool) -> tuple[_Node, ...]:
        nodes: list[_Node] = []
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            if in_terms and char in ",}":
                return tuple(nodes)
            self._pos += 1
            if char == "{":
                nodes.append(self._terms())
            elif char == "[":
                nodes.append(self._range())
            elif char == "?":
                nodes.append(_Wild("one", f"[^{re.escape(_SEPARATORS)}]"))
            elif char == "*":
                if self._pos < len(text) and text[self._pos] == "*":
                    self._pos += 1
                    nodes.append(_Wild("super"))
                else:
                    nodes.append(_Wild("star"))
            else:
                self._pos -= 1
                breakers = "?*[{" + (",}" if in_terms else "")
                nodes.append(_Text(self._fetch_text(breakers)))
        if in_terms:
            raise ValueError("unclosed '{' in pattern")
        return tuple(nodes)

    def _terms(self) -> _Alt:
        options = [self._sequence(in_terms=True)]
        while self._text[self._pos] == ",":
            self._pos += 1
            options.append(self._sequence(in_terms=True))
        self._pos += 1  # the closing '}'
        return _Alt(tuple(options))

    def _fetch_text(self, breakers: str) -> str:
        data: list[str] = []
        escaped = False
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            self._pos += 1
            if not escaped:
                if char == "\\":
                    escaped = True
                    continue
                if char in breakers:
                    self._pos -= 1
                    break
            escaped = False
            data.append(char)
        return "".join(data)

    def _read(self) -> str:
        if self._pos >= len(self._text):
            raise ValueError("unclosed '[' in pattern")
        char = self._text[self._pos]
        self._pos += 1
        return char

    def _range(self) -> _Wild:
        negate = False
        char = self._read()
        if char == "!":
            negate = True
            char = self._read()
        if self._pos < len(self._text) and self._text[self._pos] == "-":
            self._pos += 1
            high = self._read()
            if self._read() != "]":
                raise ValueError("expected ']' closing a character range")
            if ord(high) < ord(char):
                raise ValueError("character range is reversed")
            body = f"{re.escape(char)}-{re.escape(high)}"
        else:
            self._pos -= 1
            chars = self._fetch_text("]")
            if self._read() != "]":  # pragma: no cover - _fetch_text stops only at ']' or the end
                raise ValueError("expected ']'")
            if not chars:
                return _Wild("one", "(?!)" if not negate else "(?s:.)")
            body = "".join(re.escape(c) for c in chars)
        return _Wild("one", f"[{'^' if negate else ''}{body}]")


def _expand(nodes: tuple[_Node, ...]) -> list[tuple[_Text | _Wild, ...]]:
    """Every brace-free sequence the pattern stands for (`a{b,c}` → `ab`, `ac`)."""
    parts: list[list[tuple[_Text | _Wild, ...]]] = []
    for node in nodes:
        if isinstance(node, _Alt):
            options = [seq for option in node.options for seq in _expand(option)]
            parts.append(options)
        else:
            parts.append([(node,)])
    total = 1
    for options in parts:
        total *= len(options)
        if total > _MAX_ALTERNATIVES:
            raise ValueError(f"pattern has more than {_MAX_ALTERNATIVES} alternatives")
    return [tuple(item for chunk in combo for item in chunk) for combo in product(*parts)]


class _Matcher:
    """Whole-string match of one brace-free glob by NFA simulation: O(len(text) × len(glob)).

    A backtracking regex (Python's `re`) takes exponential time on inputs such as a long run of
    `a.` against `**.good.com/**`; the URL is attacker-controlled, so it must not be used here.
    """

    __slots__ = ("_kinds", "_args", "_prefix", "_size")

    def __init__(self, nodes: tuple[_Text | _Wild, ...]) -> None:
        kinds: list[str] = []
        args: list[object] = []
        for node in nodes:
            if isinstance(node, _Text):
                kinds.extend("lit" for _ in node.text)
                args.extend(node.text)
            else:
                kinds.append(node.kind)
                args.append(re.compile(node.regex, re.DOTALL) if node.kind == "one" else None)
        prefix = []
        for kind, arg in zip(kinds, args):
            if kind != "lit":
                break
            prefix.append(arg)
        self._kinds, self._args = tuple(kinds), tuple(args)
        self._prefix = "".join(prefix)  # type: ignore[arg-type]
        self._size = len(kinds)

    def _closure(self, states: set[int]) -> set[int]:
        stack = list(states)
        while stack:
            index = stack.pop()
            if index < self._size and self._kinds[index] in ("star", "super") and index + 1 not in states:
                states.add(index + 1)
                stack.append(index + 1)
        return states

    def fullmatch(self, text: str) -> bool:
        if not text.startswith(self._prefix):
            return False
        kinds, args, size = self._kinds, self._args, self._size
        states = self._closure({len(self._prefix)})
        for char in text[len(self._prefix) :]:
            following: set[int] = set()
            for index in states:
                if index == size:
                    continue
                kind = kinds[index]
                if kind == "lit":
                    if char == args[index]:
                        following.add(index + 1)
                elif kind == "super" or (kind == "star" and char not in _SEPARATORS):
                    following.add(index)
                elif kind == "one" and args[index].fullmatch(char):  # type: ignore[union-attr]
                    following.add(index + 1)
            if not following:
                return False
            states = self._closure(following)
        return size in states


def _host_nodes(nodes: tuple[_Text | _Wild, ...]) -> tuple[_Text | _Wild, ...] | None:
    """The part of a brace-free pattern between its first literal `://` and the path, sans userinfo."""
    flat: list[_Text | _Wild] = []
    for node in nodes:
        if isinstance(node, _Text):
            flat.extend(_Text(c) for c in node.text)
        else:
            flat.append(node)
    literal = [n.text if isinstance(n, _Text) else None for n in flat]
    start = next((i + 3 for i in range(len(flat) - 2) if literal[i : i + 3] == [":", "/", "/"]), None)
    if start is None:
        return None
    end = next((i for i in range(start, len(flat)) if literal[i] in ("/", "?", "#")), len(flat))
    host = flat[start:end]
    at = max((i for i, n in enumerate(host) if isinstance(n, _Text) and n.text == "@"), default=-1)
    return tuple(host[at + 1 :])


@dataclass(frozen=True, slots=True)
class _Glob:
    pattern: str
    full: _Matcher
    host: _Matcher | None


def _compile_glob(pattern: str) -> list[_Glob]:
    globs = []
    for nodes in _expand(_GlobLexer(pattern).parse()):
        host_nodes = _host_nodes(nodes)
        host = _Matcher(host_nodes) if host_nodes is not None else None
        globs.append(_Glob(pattern, _Matcher(nodes), host))
    return globs


def compile_allow_list(patterns: tuple[str, ...]) -> tuple[_Glob, ...]:
    """Compile `GOTRUE_URI_ALLOW_LIST` entries; ValueError names the first malformed one."""
    compiled: list[_Glob] = []
    for pattern in patterns:
        try:
            compiled.extend(_compile_glob(pattern))
        except ValueError as error:
            raise ValueError(f"invalid allow-list pattern {pattern!r}: {error}") from None
    return tuple(compiled)


def glob_matches(pattern: str, text: str) -> bool:
    """Whether the whole of `text` matches the gobwas glob `pattern` (separators `.` and `/`)."""
    return any(glob.full.fullmatch(text) for glob in _compile_glob(pattern))


# --- the policy --------------------------------------------------------------------------------

_DECIMAL = re.compile(r"^[0-9]+$")
_REGULAR_HOSTNAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$")
_SCHEME_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-_]*):(?://([^/?#]*))?")
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})
# WHATWG "special" schemes: browsers parse their authority their own way (`\` is `/`, IPv4 forms).
_SPECIAL = frozenset({"http", "https", "ws", "wss", "ftp"})
_NEVER = frozenset({"javascript", "vbscript", "data", "file", "blob", "filesystem", "about"})


def _ip(hostname: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go's `net.ParseIP` (dotted-decimal IPv4 or IPv6, no zone)."""
    if "%" in hostname:
        return None
    try:
        return ipaddress.ip_address(hostname)
    except ValueError:
        return None


def _is_loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _ends_in_number(hostname: str) -> bool:
    """WHATWG: a host whose last label is numeric is parsed as an IPv4 address by browsers."""
    labels = hostname.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    last = labels[-1]
    if last and all("0" <= c <= "9" for c in last):
        return True
    return last[:2] in ("0x", "0X") and all(c in _HEX for c in last[2:])


def _authority_host(authority: str) -> str:
    return authority[authority.rfind("@") + 1 :]


@dataclass(frozen=True, slots=True)
class RedirectPolicy:
    """GoTrue's `IsRedirectURLValid` (api.md §14.5); invalid targets fall back, never error.

    Rules, in GoTrue's order: (1) empty, control characters or spaces, or an unparsable SITE_URL →
    invalid; (2) same hostname and scheme as SITE_URL and (same port, or a loopback hostname) →
    valid; (3) all-digit hostname → invalid; IP literal → valid iff loopback (the allow list is not
    consulted); http(s) hostname outside `^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$` → invalid;
    (4) else valid iff the URL without its fragment matches an allow-list glob.

    Case: as in Go, the scheme is compared case-insensitively (Go lower-cases it) and the hostname
    exactly, so `https://EXAMPLE.com` is not SITE_URL's `example.com` (safe: it only rejects).
    Globs match the raw text, case-sensitively.

    Stricter than GoTrue (each closes a gap between Go's parser and a browser's):
    * no scheme (`/path`, `//evil.com`): invalid; the browser would resolve it against the API host.
    * `javascript:`, `data:`, `vbscript:`, `file:`, `blob:`, `filesystem:`, `about:`: invalid.
    * a URL Go cannot parse reaches the allow list only with a non-special scheme (GoTrue lets
      through e.g. `com.my_app://cb`); with a WHATWG special scheme it is invalid.
    * special schemes (http, https, ws, wss, ftp): an empty hostname, or one a browser reads as an
      IPv4 address that Go does not (`0x7f.1`, `127.1`, `0xC0A80001`), is invalid.
    * `[...]` must contain an IPv6 address without zone.
    * an allow-list match also requires the candidate's host[:port] to match the glob's own host
      part (between its `://` and path), so `https://evil?.example.com` or
      `https://evil.com/.example.com/` cannot satisfy `https://*.example.com/**` or
      `https://**.example.com/**` through the query or path. Globs without a literal `://` (e.g.
      `**`) have no host part and match as in GoTrue.
    """

    site_url: str
    allow_list: tuple[str, ...] = ()
    _globs: tuple[_Glob, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allow_list", tuple(self.allow_list))
        object.__setattr__(self, "_globs", compile_allow_list(self.allow_list))

    def is_valid(self, candidate: str | None) -> bool:
        if not candidate or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in candidate):
            return False
        try:
            base = _go_parse(self.site_url)
        except _GoParseError:
            return False
        try:
            url = _go_parse(candidate)
        except _GoParseError:
            return self._unparsable(candidate)
        if url.scheme in _NEVER or not url.scheme:
            return False
        special = url.scheme in _SPECIAL
        hostname = url.hostname
        if (
            (hostname or not special)
            and hostname == base.hostname
            and url.scheme == base.scheme
            and (url.port == base.port or hostname in _LOOPBACK_NAMES)
        ):
            return True
        if _DECIMAL.fullmatch(hostname):
            return False
        ip = _ip(hostname)
        if ip is not None:
            return _is_loopback(ip)
        if special and (not _REGULAR_HOSTNAME.fullmatch(hostname) or _ends_in_number(hostname)):
            return False
        return self._allowed(candidate, url.authority)

    def _unparsable(self, candidate: str) -> bool:
        prefix = _SCHEME_PREFIX.match(candidate)
        if prefix is None:
            return False
        scheme = prefix.group(1).lower()
        if scheme in _SPECIAL or scheme in _NEVER:
            return False
        return self._allowed(candidate, prefix.group(2))

    def _allowed(self, candidate: str, authority: str | None) -> bool:
        text = candidate.partition("#")[0]
        for glob in self._globs:
            if not glob.full.fullmatch(text):
                continue
            if glob.host is None:
                return True
            if authority is not None and glob.host.fullmatch(_authority_host(authority)):
                return True
        return False

    def resolve(self, redirect_to: str | None, referer: str | None = None) -> str:
        """`redirect_to` if valid, else the Referer if valid, else SITE_URL."""
        if self.is_valid(redirect_to):
            return redirect_to  # type: ignore[return-value]
        if self.is_valid(referer):
            return referer  # type: ignore[return-value]
        return self.site_url
