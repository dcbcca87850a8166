"""`.env` files: `KEY=VALUE`, optional `export `, quotes, `#` comments."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pytrue.entrypoints.settings.errors import SettingsError

_DOTENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def read_dotenv(path: str | os.PathLike[str]) -> dict[str, str]:
    """Parse a dotenv file: `KEY=VALUE`, optional `export `, quotes, `#` comments; missing is empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(str(path), f"cannot read the file ({type(error).__name__})") from None
    return _DotenvParser(text, str(path)).parse()


class _DotenvParser:
    def __init__(self, text: str, name: str) -> None:
        self._text = text.replace("\r\n", "\n").replace("\r", "\n")
        self._name = name
        self._pos = 0
        self._line = 1

    def parse(self) -> dict[str, str]:
        values: dict[str, str] = {}
        while self._pos < len(self._text):
            self._skip_blank()
            if self._pos >= len(self._text):
                break
            if self._peek() == "#":
                self._skip_line()
                continue
            key = self._key()
            values[key] = self._value()
        return values

    def _error(self, problem: str) -> SettingsError:
        return SettingsError(f"{self._name} line {self._line}", problem)

    def _peek(self) -> str:
        return self._text[self._pos] if self._pos < len(self._text) else ""

    def _advance(self, count: int = 1) -> None:
        self._line += self._text.count("\n", self._pos, self._pos + count)
        self._pos += count

    def _skip_blank(self) -> None:
        while self._peek() in (" ", "\t", "\n"):
            self._advance()

    def _skip_spaces(self) -> None:
        while self._peek() in (" ", "\t"):
            self._advance()

    def _skip_line(self) -> None:
        end = self._text.find("\n", self._pos)
        self._advance((len(self._text) if end < 0 else end) - self._pos)

    def _key(self) -> str:
        if self._text.startswith("export ", self._pos) or self._text.startswith("export\t", self._pos):
            self._advance(len("export"))
            self._skip_spaces()
        match = _DOTENV_KEY.match(self._text, self._pos)
        if not match:
            raise self._error("expected KEY=VALUE")
        self._advance(match.end() - self._pos)
        self._skip_spaces()
        if self._peek() not in ("=", ":"):
            raise self._error("expected KEY=VALUE")
        self._advance()
        self._skip_spaces()
        return match.group(0)

    def _value(self) -> str:
        quote = self._peek()
        if quote in ("'", '"'):
            value = self._quoted(quote)
            self._skip_spaces()
            if self._peek() == "#":
                self._skip_line()
            elif self._peek() not in ("\n", ""):
                raise self._error("unexpected characters after a quoted value")
            return value
        end = self._text.find("\n", self._pos)
        raw = self._text[self._pos : len(self._text) if end < 0 else end]
        self._advance(len(raw))
        comment = re.search(r"[ \t]#", raw)
        if comment:
            raw = raw[: comment.start()]
        return raw.strip()

    def _quoted(self, quote: str) -> str:
        start_line = self._line
        self._advance()
        chars: list[str] = []
        escapes = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}
        while True:
            ch = self._peek()
            if not ch:
                self._line = start_line
                raise self._error("unterminated quoted value")
            self._advance()
            if ch == quote:
                return "".join(chars)
            if ch == "\\" and quote == '"' and self._peek() in escapes:
                chars.append(escapes[self._peek()])
                self._advance()
                continue
            chars.append(ch)
