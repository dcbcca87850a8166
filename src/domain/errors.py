"""The domain error family: every refusal carries GoTrue's wire code.

`where` names the rule's context (for example ``bearer`` for errors found while
authenticating a bearer token) so that entrypoints can pick the status GoTrue uses there.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the operation; `code` is the GoTrue error code."""

    def __init__(self, code: str, message: str, *, where: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.where = where

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class ValidationFailed(DomainError):
    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__("validation_failed", message, where=where)


class WeakPassword(DomainError):
    """The password breaks the policy; `reasons` lists `length`, `characters`, `pwned`."""

    def __init__(self, message: str, reasons: tuple[str, ...]) -> None:
        super().__init__("weak_password", message)
        self.reasons = reasons


class InvalidCredentials(DomainError):
    def __init__(self, message: str = "Invalid login credentials") -> None:
        super().__init__("invalid_credentials", message)


class UserNotFound(DomainError):
    def __init__(self, message: str = "User not found", *, where: str = "") -> None:
        super().__init__("user_not_found", message, where=where)


class EmailExists(DomainError):
    def __init__(self, message: str = "A user with this email address has already been registered") -> None:
        super().__init__("email_exists", message)


class PhoneExists(DomainError):
    def __init__(self, message: str = "A user with this phone number has already been registered") -> None:
        super().__init__("phone_exists", message)


class BadJwt(DomainError):
    def __init__(self, message: str, *, where: str = "") -> None:
        super().__init__("bad_jwt", message, where=where)


class Conflict(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__("conflict", message)


class UnexpectedFailure(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__("unexpected_failure", message)
