"""What use cases hand back: sessions with their tokens, principals, pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytrue.domain.session import Session
from pytrue.domain.user import User
from pytrue.domain.values import PasswordCheck


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshDiagnostics:
    """What GoTrue reports of an issued refresh token in its `sb-auth-refresh-token-*` headers:
    the v2 counter, whether the presented token was reused, and why a reuse was allowed."""

    counter: int | None = None
    reused: bool | None = None
    reuse_causes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthResult:
    """A signed-in session as the token endpoint returns it."""

    user: User
    session: Session
    access_token: str
    refresh_token: str
    expires_at: int
    expires_in: int
    weak_password: PasswordCheck | None = None
    diagnostics: RefreshDiagnostics = RefreshDiagnostics()
    provider_token: str = ""  # an OAuth provider's tokens, when the session came from one (PKCE grant)
    provider_refresh_token: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SignUpResult:
    user: User
    auth: AuthResult | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """The caller behind a bearer token: its claims, and the user and session when it has them."""

    claims: dict[str, Any]
    user: User | None = None
    session: Session | None = None

    @property
    def role(self) -> str:
        role = self.claims.get("role")
        return role if isinstance(role, str) else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class UserPage:
    users: list[User]
    total: int
    page: int
    per_page: int
