"""A small, safe renderer for the Go `text/template` subset email templates use.

Supported: `{{ .Name }}`, field chains `{{ .Data.key }}`, `{{ . }}`, `{{ $ }}`/`{{ $.Name }}`,
`{{ if }}`/`{{ else if }}`/`{{ else }}`/`{{ end }}`, `{{ with }}` (with `else`), the functions
`eq ne lt le gt ge and or not len index print printf urlquery`, string (`"…"`, raw `` `…` ``),
number, `true`/`false`/`nil` literals, parenthesised sub-expressions, pipelines `{{ .X | f }}`,
trim markers `{{- -}}` and comments `{{/* */}}`. Anything else (`range`, `define`,
`template`, variables, unknown functions, method calls) is a parse error, so the caller can
fall back to a built-in template.

Safety: nothing is evaluated as Python. The data is walked only through `dict` look-ups with
string keys, list/str indexing and `len`; values are printed by type (`str`, `int`, `float`,
`bool`, `None`, `list`, `dict`), any other object prints as the empty string. Execution never
raises: a field of a non-map, a missing key, an out-of-range index or a comparison of unlike
types yields "no value", which prints as the empty string (Go's html/template also prints
nil as empty; text/template would print `<no value>`) and is false in conditions.

`html=True` gives html/template-like output: every interpolated value is HTML-escaped
(`& < > " '`, plus white space, `=` and backquote in an unquoted attribute value), and a value placed at the start of a URL attribute (`href=`, `src=`, …) whose
scheme is not http, https or mailto is replaced by `#ZgotmplZ`, as Go does. Literal template
text is trusted and copied as is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

__all__ = ["Template", "TemplateError", "parse"]

MAX_DEPTH = 50
_CONTEXT_WINDOW = 1000
UNSAFE_URL = "#ZgotmplZ"

_SPACE = " \t\r\n"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELDS = re.compile(r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![A-Za-z0-9_.])"
)
_URL_ATTRIBUTE = re.compile(
    r"""(?:^|[\s"'])(?:href|src|action|formaction|cite|background|poster|xlink:href)\s*=\s*["']?\Z""", re.IGNORECASE
)
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.\-]*):")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_KEYWORDS = frozenset({"if", "else", "end", "with"})
_UNSUPPORTED = frozenset({"range", "define", "template", "block", "break", "continue"})
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\\": "\\", '"': '"', "'": "'"}
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;", "\0": "\ufffd"})
# In an unquoted attribute value white space, `=` and backquote would end or split the value.
_HTML_UNQUOTED = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;", "\0": "\ufffd",
     " ": "&#32;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;", "\f": "&#12;", "=": "&#61;", "`": "&#96;"}
)


class TemplateError(ValueError):
    """The template text is malformed or uses something outside the supported subset."""


# --- tokens and nodes ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(" ")" "|" str num field var ident
    value: Any = None
    glued: bool = False  # no space before it


@dataclass(frozen=True, slots=True)
class _Field:
    root: str  # "dot" or "root"
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class _Command:
    function: str | None
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Pipeline:
    commands: tuple[_Command, ...]


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Output:
    pipeline: _Pipeline
    url_start: bool
    unquoted: bool


@dataclass(slots=True)
class _Branch:
    keyword: str  # "if" or "with"
    condition: _Pipeline
    body: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class _Conditional:
    branches: list[_Branch]
    otherwise: list[Any] | None = None


_MISSING: Any = None

# name -> (minimum args, maximum args or None)
_ARITY: dict[str, tuple[int, int | None]] = {
    "eq": (2, None),
    "ne": (2, 2),
    "lt": (2, 2),
    "le": (2, 2),
    "gt": (2, 2),
    "ge": (2, 2),
    "and": (1, None),
    "or": (1, None),
    "not": (1, 1),
    "len": (1, 1),
    "index": (1, None),
    "print": (0, None),
    "printf": (1, None),
    "urlquery": (0, None),
}


# --- lexing --------------------------------------------------------------------------------


def _lex(source: str) -> list[tuple[str, Any]]:
    """Split into ("text", str) and ("action", [tokens]) items, trim markers applied."""
    items: list[tuple[str, Any]] = []
    pos = 0
    trim_next = False
    length = len(source)
    while pos <= length:
        start = source.find("{{", pos)
        text = source[pos:] if start < 0 else source[pos:start]
        if trim_next:
            text = text.lstrip(_SPACE)
            trim_next = False
        if start < 0:
            if text:
                items.append(("text", text))
            break
        cursor = start + 2
        if source.startswith("-", cursor) and cursor + 1 < length and source[cursor + 1] in _SPACE:
            text = text.rstrip(_SPACE)
            cursor += 2
        if text:
            items.append(("text", text))
        tokens, cursor, trim_next, comment = _lex_action(source, cursor, start)
        if not comment:
            items.append(("action", tokens))
        pos = cursor
    return items


def _lex_action(source: str, cursor: int, start: int) -> tuple[list[_Token], int, bool, bool]:
    length = len(source)
    probe = cursor
    while probe < length and source[probe] in _SPACE:
        probe += 1
    if source.startswith("/*", probe):
        end = source.find("*/", probe + 2)
        if end < 0:
            raise TemplateError(f"unclosed comment at offset {start}")
        after = end + 2
        if source.startswith("}}", after):
            return [], after + 2, False, True
        if source.startswith(" -}}", after):
            return [], after + 4, True, True
        raise TemplateError(f"comment ends before closing delimiter at offset {start}")
    tokens: list[_Token] = []
    glued = False
    while True:
        if cursor >= length:
            raise TemplateError(f"unclosed action at offset {start}")
        ch = source[cursor]
        if ch in _SPACE:
            if source.startswith("-}}", cursor + 1):
                return tokens, cursor + 4, True, False
            cursor += 1
            glued = False
            continue
        if source.startswith("}}", cursor):
            return tokens, cursor + 2, False, False
        if ch in "()|":
            tokens.append(_Token(ch, glued=glued))
            cursor += 1
        elif ch == '"':
            value, cursor = _quoted(source, cursor)
            tokens.append(_Token("str", value, glued))
        elif ch == "`":
            end = source.find("`", cursor + 1)
            if end < 0:
                raise TemplateError(f"unterminated raw string at offset {cursor}")
            tokens.append(_Token("str", source[cursor + 1 : end], glued))
            cursor = end + 1
        elif (match := _NUMBER.match(source, cursor)) and (ch.isdigit() or ch in "+-." and match.end() > cursor + 1):
            tokens.append(_Token("num", _number(match.group(0)), glued))
            cursor = match.end()
        elif ch == "." and (match := _FIELDS.match(source, cursor)):
            tokens.append(_Token("field", _Field("dot", tuple(match.group(0)[1:].split("."))), glued))
            cursor = match.end()
        elif ch == ".":
            tokens.append(_Token("field", _Field("dot", ()), glued))
            cursor += 1
        elif ch == "$":
            name = _IDENT.match(source, cursor + 1)
            if name:
                raise TemplateError(f"variables are not supported (${name.group(0)})")
            cursor += 1
            match = _FIELDS.match(source, cursor)
            path = tuple(match.group(0)[1:].split(".")) if match else ()
            cursor = match.end() if match else cursor
            tokens.append(_Token("field", _Field("root", path), glued))
        elif match := _IDENT.match(source, cursor):
            word = match.group(0)
            cursor = match.end()
            if source.startswith(":=", cursor) or source.startswith(".", cursor):
                raise TemplateError(f"unsupported construct after {word!r}")
            tokens.append(_Token("ident", word, glued))
        else:
            raise TemplateError(f"unexpected {ch!r} in action at offset {cursor}")
        glued = True


def _quoted(source: str, cursor: int) -> tuple[str, int]:
    out: list[str] = []
    pos = cursor + 1
    while pos < len(source):
        ch = source[pos]
        if ch == '"':
            return "".join(out), pos + 1
        if ch == "\n":
            break
        if ch == "\\":
            nxt = source[pos + 1 : pos + 2]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                pos += 2
                continue
            sizes = {"x": 2, "u": 4, "U": 8}
            if nxt in sizes:
                digits = source[pos + 2 : pos + 2 + sizes[nxt]]
                if len(digits) == sizes[nxt] and all(c in "0123456789abcdefABCDEF" for c in digits):
                    code = int(digits, 16)
                    if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                        out.append(chr(code))
                        pos += 2 + sizes[nxt]
                        continue
            raise TemplateError(f"bad escape in string at offset {pos}")
        out.append(ch)
        pos += 1
    raise TemplateError(f"unterminated string at offset {cursor}")


def _number(text: str) -> int | float:
    body = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    lowered = body.lower()
    for prefix, base in (("0x", 16), ("0b", 2), ("0o", 8)):
        if lowered.startswith(prefix):
            return sign * int(body[2:], base)
    if re.fullmatch(r"\d+", body):
        return sign * int(body)
    value = float(body)
    if math.isinf(value):
        raise TemplateError(f"number out of range: {text}")
    return sign * value


# --- parsing -------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def pipeline(self, depth: int, closing: str | None = None) -> _Pipeline:
        if depth > MAX_DEPTH:
            raise TemplateError("expression nested too deeply")
        commands: list[_Command] = []
        while True:
            commands.append(self.command(depth, piped=bool(commands)))
            token = self.peek()
            if token is None or token.kind == closing:
                break
            if token.kind != "|":
                raise TemplateError(f"unexpected {token.kind!r} in pipeline")
            self.pos += 1
        return _Pipeline(tuple(commands))

    def command(self, depth: int, *, piped: bool) -> _Command:
        operands: list[Any] = []
        function: str | None = None
        while (token := self.peek()) is not None and token.kind not in ("|", ")"):
            self.pos += 1
            if token.kind == "ident" and not operands and function is None and token.value not in ("true", "false"):
                function = self.function_name(token.value)
                continue
            if token.kind == "(":
                operands.append(self.pipeline(depth + 1, closing=")"))
                end = self.peek()
                if end is None or end.kind != ")":
                    raise TemplateError("unclosed parenthesis")
                self.pos += 1
                after = self.peek()
                if after is not None and after.glued and after.kind == "field":
                    raise TemplateError("field access on a parenthesised value is not supported")
            elif token.kind == "ident":
                operands.append(self.word_literal(token.value))
            elif token.kind in ("str", "num"):
                operands.append(_Literal(token.value))
            elif token.kind == "field":
                operands.append(token.value)
            else:
                raise TemplateError(f"unexpected {token.kind!r}")
        if function is None:
            if not operands:
                raise TemplateError("missing value for command")
            if len(operands) > 1 or piped:
                raise TemplateError("can't give arguments to a non-function")
            return _Command(None, tuple(operands))
        count = len(operands) + (1 if piped else 0)
        low, high = _ARITY[function]
        if count < low or (high is not None and count > high):
            raise TemplateError(f"wrong number of arguments for {function}: {count}")
        return _Command(function, tuple(operands))

    @staticmethod
    def function_name(word: str) -> str:
        if word == "nil":
            raise TemplateError("nil is not a command")
        if word not in _ARITY:
            raise TemplateError(f"function {word!r} not defined")
        return word

    @staticmethod
    def word_literal(word: str) -> _Literal | _Pipeline:
        if word == "true":
            return _Literal(True)
        if word == "false":
            return _Literal(False)
        if word == "nil":
            raise TemplateError("nil is not a command")
        if word in _ARITY:
            return _Pipeline((_Command(word, ()),)) if _ARITY[word][0] == 0 else _fail(f"{word} needs arguments")
        raise TemplateError(f"function {word!r} not defined")


def _fail(message: str) -> Any:
    raise TemplateError(message)


def _parse_pipeline(tokens: list[_Token]) -> _Pipeline:
    if not tokens:
        raise TemplateError("missing value for command")
    parser = _Parser(tokens)
    pipeline = parser.pipeline(0)
    if parser.pos != len(tokens):
        raise TemplateError("unexpected ')'")
    return pipeline


def _in_unquoted_attribute(context: str) -> bool:
    """Inside a start tag, right after `name=` (a quote would follow the `=` otherwise)."""
    opened = context.rfind("<")
    inside = opened > context.rfind(">") and context[opened + 1 : opened + 2].isalpha()
    return inside and context.rstrip(" \t\r\n\f").endswith("=")


def _build(items: list[tuple[str, Any]]) -> list[Any]:
    root: list[Any] = []
    # open blocks: the conditional, the node list it goes into, the text before it
    stack: list[tuple[_Conditional, list[Any], str]] = []
    current = root
    # The literal text so far, each output standing as "x", to find the HTML context of the
    # next output. Every branch (and what follows `end`) continues from the text before the
    # `if`: a block may output nothing.
    previous_text = ""
    for kind, value in items:
        if kind == "text":
            current.append(_Text(value))
            previous_text = (previous_text + value)[-_CONTEXT_WINDOW:]
            continue
        tokens: list[_Token] = value
        head = tokens[0].value if tokens and tokens[0].kind == "ident" else None
        if head in _UNSUPPORTED:
            raise TemplateError(f"{{{{ {head} }}}} is not supported")
        if head in ("if", "with"):
            if len(stack) >= MAX_DEPTH:
                raise TemplateError("blocks nested too deeply")
            branch = _Branch(head, _parse_pipeline(tokens[1:]))
            stack.append((_Conditional([branch]), current, previous_text))
            current = branch.body
        elif head == "else":
            if not stack or stack[-1][0].otherwise is not None:
                raise TemplateError("unexpected {{ else }}")
            conditional, _, previous_text = stack[-1]
            rest = tokens[1:]
            if rest and rest[0].kind == "ident" and rest[0].value in ("if", "with"):
                branch = _Branch(rest[0].value, _parse_pipeline(rest[1:]))
                conditional.branches.append(branch)
                current = branch.body
            elif rest:
                raise TemplateError("unexpected words after else")
            else:
                conditional.otherwise = []
                current = conditional.otherwise
        elif head == "end":
            if not stack:
                raise TemplateError("unexpected {{ end }}")
            if len(tokens) > 1:
                raise TemplateError("unexpected words after end")
            conditional, parent, previous_text = stack.pop()
            parent.append(conditional)
            current = parent
        else:
            url_start = bool(_URL_ATTRIBUTE.search(previous_text[-100:]))
            unquoted = _in_unquoted_attribute(previous_text)
            current.append(_Output(_parse_pipeline(tokens), url_start, unquoted))
            previous_text = (previous_text + "x")[-_CONTEXT_WINDOW:]
    if stack:
        raise TemplateError("unexpected end of template: missing {{ end }}")
    return root


# --- evaluation ----------------------------------------------------------------------------


def _lookup(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        try:
            return value.get(name, _MISSING) if isinstance(name, str) else _MISSING
        except TypeError:
            return _MISSING
    return _MISSING


def _truth(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > 0
    return True


def _number_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def to_text(value: Any, depth: int = 0) -> str:
    """Go's `%v` for the JSON-like values templates see; other objects print as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if depth > MAX_DEPTH:
        return ""
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(to_text(item, depth + 1) or "<nil>" for item in value) + "]"
    if isinstance(value, Mapping):
        keys = sorted((key for key in value if isinstance(key, str)))
        return "map[" + " ".join(f"{key}:{to_text(value[key], depth + 1) or '<nil>'}" for key in keys) + "]"
    return ""


def _comparable(value: Any) -> tuple[str, Any] | None:
    if value is None:
        return ("nil", None)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    return None


def _equal(left: Any, right: Any) -> bool:
    a, b = _comparable(left), _comparable(right)
    return a is not None and a == b


def _order(left: Any, right: Any) -> int | None:
    a, b = _comparable(left), _comparable(right)
    if a is None or b is None or a[0] != b[0] or a[0] in ("nil", "bool"):
        return None
    if a[1] == b[1]:
        return 0
    return -1 if a[1] < b[1] else 1


def _index(value: Any, keys: Sequence[Any]) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            value = _lookup(value, key) if isinstance(key, str) else _MISSING
        elif isinstance(value, (list, tuple, str)) and isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < len(value):
                return _MISSING
            value = value[key] if not isinstance(value, str) else value.encode("utf-8")[key]
        else:
            return _MISSING
    return value


def _length(value: Any) -> Any:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, (list, tuple, Mapping)):
        return len(value)
    return _MISSING


def _printf(fmt: Any, args: Sequence[Any]) -> str:
    if not isinstance(fmt, str):
        return ""
    out: list[str] = []
    pending = list(args)
    pos = 0
    while pos < len(fmt):
        ch = fmt[pos]
        if ch != "%" or pos + 1 >= len(fmt):
            out.append(ch)
            pos += 1
            continue
        verb = fmt[pos + 1]
        pos += 2
        if verb == "%":
            out.append("%")
            continue
        if not pending:
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = pending.pop(0)
        if verb in "sv":
            out.append(to_text(arg))
        elif verb == "d" and isinstance(arg, int) and not isinstance(arg, bool):
            out.append(str(arg))
        elif verb == "q" and isinstance(arg, str):
            out.append('"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            out.append(f"%!{verb}({to_text(arg)})")
    return "".join(out)


class _Executor:
    def __init__(self, root: Any) -> None:
        self.root = root

    def operand(self, node: Any, dot: Any) -> Any:
        if isinstance(node, _Literal):
            return node.value
        if isinstance(node, _Field):
            value = self.root if node.root == "root" else dot
            for name in node.path:
                value = _lookup(value, name)
            return value
        return self.pipeline(node, dot)

    def pipeline(self, pipeline: _Pipeline, dot: Any) -> Any:
        value: Any = _MISSING
        for number, command in enumerate(pipeline.commands):
            value = self.command(command, dot, (value,) if number else ())
        return value

    def command(self, command: _Command, dot: Any, piped: tuple[Any, ...]) -> Any:
        if command.function is None:
            return self.operand(command.args[0], dot)
        name = command.function
        lazy: list[Callable[[], Any]] = [lambda node=node: self.operand(node, dot) for node in command.args]
        lazy += [lambda value=value: value for value in piped]
        if name in ("and", "or"):
            result: Any = _MISSING
            for get in lazy:
                result = get()
                if _truth(result) != (name == "and"):
                    return result
            return result
        args = [get() for get in lazy]
        return _FUNCTIONS[name](args)

    def render(self, nodes: list[Any], dot: Any, out: list[str], html: bool) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                out.append(node.text)
            elif isinstance(node, _Output):
                text = to_text(self.pipeline(node.pipeline, dot))
                if html:
                    if node.url_start:
                        scheme = _SCHEME.match(text)
                        if scheme and scheme.group(1).lower() not in _SAFE_SCHEMES:
                            text = UNSAFE_URL
                    if node.unquoted and not text:
                        text = "ZgotmplZ"  # an empty unquoted value would swallow the next attribute
                    text = text.translate(_HTML_UNQUOTED if node.unquoted else _HTML)
                    if node.unquoted:
                        text = "".join(f"&#{ord(ch)};" if ch.isspace() else ch for ch in text)
                out.append(text)
            else:
                self.conditional(node, dot, out, html)

    def conditional(self, node: _Conditional, dot: Any, out: list[str], html: bool) -> None:
        for branch in node.branches:
            value = self.pipeline(branch.condition, dot)
            if _truth(value):
                self.render(branch.body, value if branch.keyword == "with" else dot, out, html)
                return
        if node.otherwise is not None:
            self.render(node.otherwise, dot, out, html)


def _compare(test: Callable[[int], bool]) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        order = _order(args[0], args[1])
        return order is not None and test(order)

    return run


_FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "eq": lambda args: any(_equal(args[0], other) for other in args[1:]),
    "ne": lambda args: not _equal(args[0], args[1]),
    "lt": _compare(lambda order: order < 0),
    "le": _compare(lambda order: order <= 0),
    "gt": _compare(lambda order: order > 0),
    "ge": _compare(lambda order: order >= 0),
    "not": lambda args: not _truth(args[0]),
    "len": lambda args: _length(args[0]),
    "index": lambda args: _index(args[0], args[1:]),
    "print": lambda args: "".join(to_text(arg) for arg in args),
    "printf": lambda args: _printf(args[0], args[1:]),
    "urlquery": lambda args: quote_plus("".join(to_text(arg) for arg in args), safe=""),
}


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template; `render` never raises."""

    source: str
    nodes: tuple[Any, ...]

    def render(self, data: Mapping[str, Any], *, html: bool = False) -> str:
        out: list[str] = []
        _Executor(data).render(list(self.nodes), data, out, html)
        return "".join(out)


def parse(source: str) -> Template:
    """Parse `source`; `TemplateError` when it is malformed or outside the supported subset."""
    if not isinstance(source, str):
        raise TemplateError("template source must be text")
    return Template(source, tuple(_build(_lex(source))))
