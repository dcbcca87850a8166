"""Ports: what the use cases need from the world, as small protocols."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol
from uuid import UUID

from pytrue.domain.audit import AuditFilter, AuditLogEntry
from pytrue.domain.cleanup import CleanupRule
from pytrue.domain.external import UserProvidedData
from pytrue.domain.flow_state import FlowState, OAuthClientState
from pytrue.domain.locale import DEFAULT_LOCALE_KEY, locale_of
from pytrue.domain.mfa import Challenge, Factor
from pytrue.domain.one_time_token import OneTimeToken
from pytrue.domain.rate import Rate
from pytrue.domain.session import RefreshToken, Session
from pytrue.domain.user import Identity, User


class RowLocked(Exception):
    """A row another transaction holds; the caller retries instead of waiting on the lock."""


class StorageUnavailable(Exception):
    """The storage cannot be reached; the request fails fast and may be retried."""


@dataclass(frozen=True, slots=True)
class UserListQuery:
    aud: str
    page: int = 1
    per_page: int = 50
    filter: str = ""
    descending: bool = True


class UserRepository(Protocol):
    async def get(self, user_id: UUID) -> User | None: ...

    async def get_for_update(self, user_id: UUID) -> User | None:
        """Read the user and lock its row until the unit of work ends (waiting for other holders).

        For one-shot changes such as spending an emailed code: a second request for the same
        user sees the first one's outcome instead of the same unspent code."""
        ...

    async def get_with_session(self, user_id: UUID, session_id: UUID | None) -> tuple[User | None, Session | None]:
        """The user and the session `session_id` (None when absent or not given), read together.

        Every bearer-token request needs both; PostgreSQL answers them in one statement.
        """
        ...

    async def get_by_session(self, session_id: UUID, *, lock: bool = False) -> tuple[User | None, Session | None]:
        """The session `session_id` and its user, read together; (None, None) when either is gone.

        With `lock` the session row is locked until the unit of work ends, or `RowLocked` is
        raised at once when another transaction holds it (a v2 refresh never waits on a lock)."""
        ...

    async def get_by_email(self, email: str, aud: str) -> User | None:
        """A non-SSO user of `aud` whose email (or an identity's email) is `email`."""
        ...

    async def get_by_phone(self, phone: str, aud: str) -> User | None: ...

    async def get_by_phone_change(self, phone: str, aud: str) -> User | None:
        """The user of `aud` waiting to confirm `phone` as their new number."""
        ...

    async def add(self, user: User) -> None:
        """Insert the user and its identities; `email_exists`/`phone_exists` on a clash."""
        ...

    async def update(self, user: User) -> None:
        """Write the user row and insert or update its identities."""
        ...

    async def delete(self, user_id: UUID) -> None:
        """Delete the user; identities, sessions and their tokens go with it."""
        ...

    async def list(self, query: UserListQuery) -> tuple[list[User], int]: ...

    async def get_by_identity(self, provider_id: str, provider: str) -> User | None:
        """The user owning the identity `(provider_id, provider)`, with its identities."""
        ...

    async def identities_with_emails(self, emails: tuple[str, ...]) -> list[Identity]:
        """Every identity whose (lower-cased) email is one of `emails`, of any user."""
        ...

    async def users_with_emails(self, emails: tuple[str, ...]) -> list[User]:
        """Every non-SSO user whose email (lower-cased) is one of `emails`, with identities."""
        ...


@dataclass(frozen=True, slots=True)
class AddressOwners:
    """Who already holds an address: `email:…`/`phone:…`/`identity:<provider>:<provider_id>` keys to user ids."""

    owners: dict[str, UUID] = field(default_factory=dict)


class UserImports(Protocol):
    """Users written and read in bulk (`pytrue users import|export`), within the unit of work's transaction."""

    async def present(self, ids: list[UUID]) -> dict[UUID, tuple[str, str]]:
        """Of these ids, those already stored, with their email and phone ("" when none)."""
        ...

    async def owners(self, keys: list[str]) -> AddressOwners:
        """The users holding these keys, as the schema keeps them unique: a non-SSO user's email for
        `email:x`, a phone for `phone:x`, an identity for `identity:<provider>:<provider_id>`."""
        ...

    async def insert(self, users: list[User]) -> set[UUID]:
        """Insert new users with their identities; an id already stored is left alone (not in the
        answer). An address taken meanwhile raises `email_exists`/`phone_exists`: the caller rolls back."""
        ...

    async def page(self, after: UUID | None, limit: int) -> list[User]:
        """Up to `limit` users with their identities, by id, after `after`."""
        ...


class SessionRepository(Protocol):
    async def get(self, session_id: UUID) -> Session | None: ...

    async def add(self, session: Session) -> None: ...

    async def update(self, session: Session) -> None: ...

    async def delete(self, session_id: UUID) -> None:
        """Delete a session with its refresh tokens and AMR claims."""
        ...

    async def delete_for_user(self, user_id: UUID, *, keep: UUID | None = None) -> None: ...

    async def delete_below_aal2(self, user_id: UUID, *, keep: UUID) -> None:
        """End the user's other sessions whose aal is below aal2 (the first aal2 verify does)."""
        ...

    async def using_factor(self, factor_id: UUID) -> list[Session]:
        """The sessions a factor stepped up (`sessions.factor_id`), AMR claims loaded."""
        ...

    async def for_user(self, user_id: UUID, *, lock_user: bool = False) -> list[Session]:
        """Every session of the user with its AMR claims, newest first (created_at, then id, descending).

        With `lock_user` the user's row is locked until the unit of work ends, or `RowLocked` is
        raised at once when another transaction holds it or the user is gone (a refresh under
        `GOTRUE_SESSIONS_SINGLE_PER_USER` never waits on a lock)."""
        ...


@dataclass(frozen=True, slots=True)
class LockedRefreshToken:
    """A presented refresh token, locked together with its session row, and the session's newest
    non-revoked token (the highest id) as read after the lock was taken."""

    token: RefreshToken
    newest_live: RefreshToken | None


class RefreshTokenRepository(Protocol):
    async def get(self, token: str) -> RefreshToken | None: ...

    async def lock(self, token: str) -> LockedRefreshToken | None:
        """Lock the token and its session row; `RowLocked` instead of waiting; None if unknown."""
        ...

    async def add(self, token: RefreshToken) -> None:
        """Insert; the store assigns the id, which is not read back."""
        ...

    async def revoke_live_for_session(self, session_id: UUID, now: datetime) -> None: ...

    async def swap(self, presented: RefreshToken, child: RefreshToken | None, now: datetime) -> None:
        """Mark `presented` used (revoked, `updated_at` = now) and add `child` if given, as one write.

        Only the presented token: a session may hold other live tokens (GoTrue's siblings)."""
        ...

    async def delete(self, token_id: int) -> None: ...

    async def newest_live(self, session_id: UUID) -> RefreshToken | None:
        """The session's newest unrevoked token, locked until the unit of work ends."""
        ...


class OneTimeTokenRepository(Protocol):
    async def replace(self, token: OneTimeToken) -> None:
        """Store `token` as the user's only token of its type."""
        ...

    async def find(self, token_hash: str, token_types: tuple[str, ...]) -> OneTimeToken | None:
        """The token with this hash and one of these types (the newest when several match)."""
        ...

    async def for_user(self, user_id: UUID, token_type: str) -> OneTimeToken | None: ...

    async def delete(self, user_id: UUID, token_type: str) -> None: ...

    async def delete_for_user(self, user_id: UUID) -> None: ...


class FlowStateRepository(Protocol):
    """PKCE and OAuth flow states (`auth.flow_state`)."""

    async def add(self, flow: FlowState) -> None: ...

    async def get(self, flow_id: UUID, *, lock: bool = False) -> FlowState | None:
        """With `lock`, the row stays locked until the unit of work ends (one callback claims it)."""
        ...

    async def update(self, flow: FlowState) -> None: ...

    async def by_auth_code(self, auth_code: str, *, lock: bool = False) -> FlowState | None:
        """With `lock`, the row stays locked until the unit of work ends, so one code is exchanged once."""
        ...

    async def latest_for_user(self, user_id: UUID, authentication_method: str) -> FlowState | None: ...

    async def delete(self, flow_id: UUID) -> None: ...


class OAuthClientStateRepository(Protocol):
    """`auth.oauth_client_states`: verifiers for providers that require PKCE."""

    async def add(self, state: OAuthClientState) -> None: ...

    async def take(self, state_id: UUID) -> OAuthClientState | None:
        """Delete the row and return it (None when there is none): a verifier is used once."""
        ...


class PwnedPasswordsUnavailable(Exception):
    """The Pwned Passwords range API could not be asked."""


class PwnedPasswords(Protocol):
    async def is_pwned(self, password: str) -> bool:
        """Whether the corpus has `password`; only a 5-character prefix of its SHA-1 leaves the
        server (k-anonymity). `PwnedPasswordsUnavailable` when the API cannot be asked."""
        ...


@dataclass(frozen=True, slots=True)
class CaptchaVerdict:
    success: bool
    error_codes: tuple[str, ...] = ()


class CaptchaUnavailable(Exception):
    """The CAPTCHA provider could not be asked (unreachable, too slow, not JSON): never a pass."""


class CaptchaVerifier(Protocol):
    async def verify(self, token: str, client_ip: str) -> CaptchaVerdict:
        """The provider's siteverify answer for `token`; `CaptchaUnavailable` when there is none."""
        ...


class QrCodes(Protocol):
    def svg(self, text: str) -> str:
        """`text` as a QR code in SVG markup."""
        ...


class FactorRepository(Protocol):
    """`auth.mfa_factors` and `auth.mfa_challenges` (a challenge's factor is deleted with it).

    The sessions a factor stepped up are the session repository's (`factor_id`)."""

    async def for_user(self, user_id: UUID) -> list[Factor]:
        """The user's factors, oldest first, secrets included."""
        ...

    async def get(self, factor_id: UUID, *, lock: bool = False) -> Factor | None:
        """With `lock`, the row stays locked until the unit of work ends (one verify at a time per factor)."""
        ...

    async def add(self, factor: Factor) -> None: ...

    async def update(self, factor: Factor) -> None: ...

    async def delete(self, factor_ids: list[UUID]) -> None: ...

    async def add_challenge(self, challenge: Challenge) -> None: ...

    async def get_challenge(self, challenge_id: UUID, factor_id: UUID, *, lock: bool = False) -> Challenge | None:
        """The challenge if it belongs to `factor_id`."""
        ...

    async def update_challenge(self, challenge: Challenge) -> None: ...

    async def delete_challenge(self, challenge_id: UUID) -> None: ...

    async def verified_challenges(self, factor_id: UUID, since: datetime) -> list[Challenge]:
        """The factor's challenges verified after `since` (which TOTP steps were spent)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CeremonyStart:
    """The first half of a WebAuthn ceremony: `options` go to the client (GoTrue's
    `credential_options`), `session_data` stays in `mfa_challenges.web_authn_session_data`."""

    options: dict[str, Any]
    session_data: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisteredCredential:
    """A registration that verified: the record for `mfa_factors.web_authn_credential` and its AAGUID."""

    record: dict[str, Any]
    aaguid: UUID | None


class WebAuthnUnavailable(Exception):
    """The relying party is not configured (the message names the missing variable)."""


class WebAuthnMalformed(Exception):
    """The credential response cannot be read as a registration or an assertion."""


class WebAuthnRefused(Exception):
    """The credential response was read but does not prove what it must (the reason is for logs only)."""


class WebAuthnCeremonies(Protocol):
    """WebAuthn registration and authentication for one relying party (`GOTRUE_WEBAUTHN_*`).

    Records and session data are JSON objects in go-webauthn's shapes, so rows written by GoTrue
    and by pytrue read the same."""

    def begin_registration(self, *, user_id: bytes, user_name: str, exclude: list[dict[str, Any]]) -> CeremonyStart:
        """Creation options for a new credential; `exclude` are the records of credentials already registered."""
        ...

    def begin_authentication(self, *, user_id: bytes, allow: list[dict[str, Any]]) -> CeremonyStart:
        """Request options for an assertion by one of the `allow` records."""
        ...

    def finish_registration(self, *, user_id: bytes, session_data: dict[str, Any], response: Any) -> RegisteredCredential:
        """Verify an attestation against the challenge's session data (challenge, origin, RP id, flags, statement)."""
        ...

    def finish_authentication(
        self, *, user_id: bytes, session_data: dict[str, Any], response: Any, record: dict[str, Any]
    ) -> dict[str, Any]:
        """Verify an assertion by the credential `record`; returns the record with its new sign count."""
        ...


class AuditLog(Protocol):
    async def add(self, entry: AuditLogEntry) -> None: ...

    async def search(self, where: AuditFilter, *, page: int, per_page: int) -> tuple[list[AuditLogEntry], int]:
        """One page of the entries `where` matches, newest first, and how many match in all."""
        ...


class UnitOfWork(Protocol):
    """One transaction: `async with uow:` … `await uow.commit()`; leaving without commit rolls back."""

    users: UserRepository
    sessions: SessionRepository
    refresh_tokens: RefreshTokenRepository
    one_time_tokens: OneTimeTokenRepository
    flow_states: FlowStateRepository
    oauth_client_states: OAuthClientStateRepository
    factors: FactorRepository
    audit: AuditLog
    outbox: MailOutbox
    hook_functions: HookFunctions
    user_imports: UserImports

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class PasswordHasher(Protocol):
    """Hashes are computed off the event loop; never call these while holding a connection."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, encoded: str) -> bool: ...

    def needs_rehash(self, encoded: str, password: str | None = None) -> bool:
        """Whether the stored hash should be replaced by a new hash of `password`, which just matched it.

        False when the hash cannot tell `password` from the one it was made from (bcrypt's
        72 bytes), so the owner's own password keeps working.
        """
        ...

    def is_supported(self, encoded: str) -> bool:
        """Whether an imported hash is in a format this hasher can verify."""
        ...

    async def burn(self, password: str) -> None:
        """Spend the time of one verification, so unknown users cost what known ones do."""
        ...


class AccessTokenSigner(Protocol):
    def sign(self, claims: dict[str, Any]) -> str: ...


class AccessTokenVerifier(Protocol):
    def verify(self, token: str, now: datetime) -> dict[str, Any]:
        """Return the claims of a well-signed, unexpired token; `BadJwt` otherwise."""
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class TokenGenerator(Protocol):
    def uuid(self) -> UUID: ...

    def refresh_token(self) -> str:
        """12 characters of lower-case RFC 4648 base32 from 8 random bytes."""
        ...

    def hmac_key(self) -> bytes:
        """32 random bytes: a session's key for signing v2 refresh tokens."""
        ...

    def random_bytes(self, count: int) -> bytes:
        """`count` bytes from a CSPRNG (a TOTP secret's 20)."""
        ...

    def otp(self, length: int) -> str: ...

    def password(self, length: int) -> str: ...


# --- mail ----------------------------------------------------------------------------------
MAIL_CONFIRMATION = "confirmation"
MAIL_INVITE = "invite"
MAIL_MAGIC_LINK = "magic_link"
MAIL_RECOVERY = "recovery"
MAIL_EMAIL_CHANGE = "email_change"
MAIL_REAUTHENTICATION = "reauthentication"
MAIL_KINDS = (MAIL_CONFIRMATION, MAIL_INVITE, MAIL_MAGIC_LINK, MAIL_RECOVERY, MAIL_EMAIL_CHANGE, MAIL_REAUTHENTICATION)
# security notifications (GOTRUE_MAILER_NOTIFICATIONS_*): no code, no link; docs/adr/0031
MAIL_PASSWORD_CHANGED = "password_changed_notification"
MAIL_EMAIL_CHANGED = "email_changed_notification"
MAIL_PHONE_CHANGED = "phone_changed_notification"
MAIL_IDENTITY_LINKED = "identity_linked_notification"
MAIL_IDENTITY_UNLINKED = "identity_unlinked_notification"
MAIL_MFA_FACTOR_ENROLLED = "mfa_factor_enrolled_notification"
MAIL_MFA_FACTOR_UNENROLLED = "mfa_factor_unenrolled_notification"
NOTIFICATION_KINDS = (
    MAIL_PASSWORD_CHANGED, MAIL_EMAIL_CHANGED, MAIL_PHONE_CHANGED, MAIL_IDENTITY_LINKED, MAIL_IDENTITY_UNLINKED,
    MAIL_MFA_FACTOR_ENROLLED, MAIL_MFA_FACTOR_UNENROLLED,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Mail:
    """What to tell whom; the mailer adapter picks the template, builds the link and delivers.

    Plain data only (no live objects), so it can wait in the outbox and be rendered by any
    worker later. `email` and `data` are the user's address and metadata when the message was
    queued (`.Email`, `.Data`). `link_type` is the `type` of the verify link (`signup`,
    `invite`, `magiclink`, `recovery`, `email_change`; empty for reauthentication, which
    carries only the code). `redirect_to` is already validated against the allow-list (never
    empty: SITE_URL at worst). `new_email` is set for email changes; `to` is the address this
    copy goes to. Notifications carry what changed instead of a code: `old_email`, `phone` and
    `old_phone` (GoTrue's stored form), `provider` (of the linked or unlinked identity) and
    `factor_type` (`.OldEmail`, `.Phone`, `.OldPhone`, `.Provider`, `.FactorType`).
    `locale` is the recipient user's normalised mail locale when the message was queued
    (`fr-CA`; "" for none), read from `user_metadata[PYTRUE_MAILER_LOCALE_KEY]` (docs/adr/0035).
    """

    kind: str
    to: str
    email: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    otp: str = ""
    token_hash: str = ""
    link_type: str = ""
    redirect_to: str = ""
    new_email: str = ""
    old_email: str = ""
    phone: str = ""
    old_phone: str = ""
    provider: str = ""
    factor_type: str = ""
    locale: str = ""

    @classmethod
    def for_user(cls, user: User, *, locale_key: str = DEFAULT_LOCALE_KEY, **fields: Any) -> Mail:
        """A message about `user`: their address, metadata and the locale under `locale_key`."""
        metadata = dict(user.user_metadata or {})
        return cls(email=user.email or "", data=metadata, locale=locale_of(metadata, locale_key), **fields)

    def payload(self) -> dict[str, Any]:
        """The JSON-ready form kept in the outbox."""
        return {
            "kind": self.kind,
            "to": self.to,
            "email": self.email,
            "data": dict(self.data),
            "otp": self.otp,
            "token_hash": self.token_hash,
            "link_type": self.link_type,
            "redirect_to": self.redirect_to,
            "new_email": self.new_email,
            **{name: getattr(self, name) for name in _OPTIONAL_FIELDS if getattr(self, name)},
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Mail:
        names = ("kind", "to", "email", "otp", "token_hash", "link_type", "redirect_to", "new_email", *_OPTIONAL_FIELDS)
        return cls(data=dict(payload.get("data") or {}), **{name: str(payload.get(name) or "") for name in names})


_NOTIFICATION_FIELDS = ("old_email", "phone", "old_phone", "provider", "factor_type")
_OPTIONAL_FIELDS = (*_NOTIFICATION_FIELDS, "locale")  # kept in the outbox payload only when set


class MailDeliveryFailed(Exception):
    """The mail could not be handed to the server.

    `recipient`: the server refused this recipient or message (it is up, so this is no outage).
    """

    def __init__(self, message: str, *, recipient: bool = False) -> None:
        super().__init__(message)
        self.recipient = recipient


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None:
        """Deliver one message; `MailDeliveryFailed` when the server refuses it or is unreachable."""
        ...


class RateLimiter(Protocol):
    """Budgets shared by every worker process (and replica) of one deployment."""

    async def consume(self, key: str, rate: Rate, now: datetime) -> bool:
        """Take one event from `key`'s budget; False (and nothing taken) when it is spent."""
        ...

    async def count(self, key: str, now: datetime) -> int:
        """Add one to `key`'s counter and return the total so far, this one included (never refused).

        Attempt counters (`otp:` keys, docs/adr/0016); a counter untouched for a day may be forgotten."""
        ...


class StaleRowCleaner(Protocol):
    """Removes stale rows one small batch at a time (`GOTRUE_DB_CLEANUP_ENABLED`, tokens.md §7)."""

    async def clean(self, rule: CleanupRule, now: datetime) -> int:
        """Apply `rule` to at most `rule.batch` rows as one short transaction; the rows affected.

        Rows another transaction holds are skipped, never waited for; a kind of row this
        storage does not keep affects nothing."""
        ...


# --- mail outbox (docs/adr/0017) -------------------------------------------------------------
class MailOutbox(Protocol):
    """The unit of work's side of the outbox: a message queued commits or rolls back with the code it carries."""

    async def add(self, mail: Mail, now: datetime) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedMail:
    """A claimed outbox message; `attempts` counts this one."""

    id: int
    mail: Mail
    created_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxStats:
    """What an operator needs to see an outage: how many wait, since when, and why."""

    depth: int
    failing: int
    oldest_created_at: datetime | None
    last_error: str = ""


class MailQueue(Protocol):
    """The sender's side of the outbox, outside any unit of work; shared by every worker and replica."""

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[QueuedMail]:
        """Take up to `limit` due messages (oldest first) for `lease`; other senders skip them meanwhile."""
        ...

    async def delivered(self, message_id: int) -> None:
        """Forget a delivered (or given-up) message."""
        ...

    async def failed(self, message_id: int, retry_at: datetime, error: str) -> None:
        """Keep a message for another attempt at `retry_at`."""
        ...

    async def stats(self) -> OutboxStats: ...


# --- SMS -----------------------------------------------------------------------------------
SMS_CHANNEL = "sms"
WHATSAPP_CHANNEL = "whatsapp"


class SmsProviderError(Exception):
    """The SMS provider refused the request or could not be reached.

    `str(error)` is the provider's own explanation where it gives one (GoTrue shows it to the
    caller after "Error sending <kind> OTP to provider: "), never a credential or the code.
    `message_id` is the provider's id when it accepted the request but reported a failure.
    """

    def __init__(self, message: str, *, message_id: str = "") -> None:
        super().__init__(message)
        self.message_id = message_id


class SmsSender(Protocol):
    """Hands one text to a provider.

    `channels` are the channels it can send on (`sms`, and `whatsapp` for Twilio and Twilio
    Verify): the use case refuses others with GoTrue's "Invalid channel" before sending.
    `phone` is GoTrue's stored form, E.164 digits without `+`.
    """

    channels: frozenset[str]

    async def send(self, *, phone: str, message: str, channel: str, otp: str) -> str:
        """The provider's message id; `SmsProviderError` on any failure.

        `otp` is the code inside `message`, for providers that template it themselves
        (Twilio WhatsApp content templates); Twilio Verify ignores both and sends its own code."""
        ...


class SmsOtpVerifier(Protocol):
    """Checks a code that the provider generated and sent itself (Twilio Verify).

    Only wired when the provider is `twilio_verify`; the stored token hash is not used then."""

    async def verify(self, *, phone: str, code: str) -> bool:
        """True when the provider approves `code` for `phone`; False when it refuses it or has no
        pending verification; `SmsProviderError` when it cannot be asked. GoTrue answers both
        failures with 403 `otp_expired` "Token has expired or is invalid"."""
        ...


# --- auth hooks (Standard Webhooks over HTTP, or a PostgreSQL function) ---------------------
class HookFailed(Exception):
    """A hook refused the request, answered badly, or could not be reached: GoTrue's answer.

    `status` and `code` are the HTTP status and wire code GoTrue sends; `str(error)` its message.
    `rejected` is True when the hook itself answered `{"error": {"http_code", "message"}}`:
    the message is the hook's and the status its `http_code` (500 when absent), with code
    `unexpected_failure` for 500 and `unknown` otherwise, as GoTrue renders a code-less error.
    """

    def __init__(
        self, message: str, *, status: int = 500, code: str = "unexpected_failure", rejected: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.rejected = rejected


class Hook(Protocol):
    """One configured extension point (send-SMS, send-email, custom access token, …)."""

    async def invoke(self, payload: Mapping[str, Any], *, uow: UnitOfWork | None = None) -> dict[str, Any]:
        """The hook's JSON object answer (`{}` when it answers nothing); `HookFailed` otherwise.

        `uow` is the request's open transaction, when there is one: a PostgreSQL function hook
        runs in it (its writes commit or roll back with the request's), as GoTrue runs it in the
        request's transaction; without one it runs in a transaction of its own. HTTP hooks
        ignore it."""
        ...


class HookFunctions(Protocol):
    """Calls a PostgreSQL function hook (`pg-functions://postgres/<schema>/<function>`) in the
    unit of work's transaction: `select <function>(<payload as jsonb>)`, bounded by
    `timeout_ms`. The function's JSON answer (None when it returns NULL); `HookFailed` when the
    function fails, times out or does not exist. Storage without functions raises `HookFailed`."""

    async def call(self, function: str, payload: Mapping[str, Any], *, timeout_ms: int) -> Any: ...


# --- the legacy (Netlify) webhook, GOTRUE_WEBHOOK_* (docs/adr/0032) ---------------------------
@dataclass(frozen=True, slots=True)
class WebhookReply:
    """What a webhook's JSON answer asks: each object it sends replaces the user's own (GoTrue
    empties the metadata before merging the answer in); an absent or null one leaves it alone."""

    user_metadata: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None

    def apply(self, user: User) -> None:
        if self.user_metadata is not None:
            user.user_metadata = self.user_metadata
        if self.app_metadata is not None:
            user.app_metadata = self.app_metadata


NO_WEBHOOK_REPLY = WebhookReply()


class LegacyWebhook(Protocol):
    """GoTrue's legacy webhook: `validate` before a sign-up is written, `signup` when an account is
    confirmed, `login` when a session opens. An event that is not configured is not sent."""

    async def send(self, event: str, user: User) -> WebhookReply:
        """The receiver's answer (`NO_WEBHOOK_REPLY` when it asks nothing); `HookFailed` with GoTrue's
        status and message when it refuses or cannot be reached, so the action is not carried out."""
        ...


# --- external OAuth / OIDC providers (issue 11) ----------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizationRequest:
    """What `/authorize` asks of a provider's authorization URL.

    `scopes` are the caller's extra scopes (GoTrue splits them on commas and appends them to the
    provider's defaults); `code_verifier` is pytrue's own PKCE verifier for providers that
    require PKCE (its S256 challenge is sent); `extra_params` are forwarded query parameters."""

    state: str
    scopes: str = ""
    code_verifier: str = ""
    nonce: str = ""
    extra_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderTokens:
    """A provider's token response; `extra` keeps the fields beyond OAuth's (WorkOS `profile`)."""

    access_token: str
    token_type: str = ""
    refresh_token: str = ""
    expires_in: int | None = None
    id_token: str = ""
    scope: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class IdTokenCheck:
    """How to judge an id_token beyond signature, issuer and lifetime.

    `audiences`: any one must be in `aud` (empty: not checked, unless `audience_required`, when
    an empty list accepts no token). `nonce`: None skips the check;
    a string applies GoTrue's id_token-grant rule (token and request both have a nonce or
    neither; the token's is hex(SHA-256(nonce))). `access_token`, when given and the token has
    `at_hash`, must match it."""

    audiences: tuple[str, ...] = ()
    nonce: str | None = None
    access_token: str = ""
    audience_required: bool = False


class OAuthProviderError(Exception):
    """A provider could not be used: unreachable, too slow, an error status, an unreadable answer.

    `reason` is one of `unreachable`, `timeout`, `status`, `malformed`, `missing`; `status`
    the provider's HTTP status when it answered. The message never carries a secret."""

    def __init__(self, message: str, *, reason: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class IdTokenRejected(Exception):
    """An id_token failed verification; `error`/`description` are GoTrue's OAuth error fields
    for the id_token grant (`invalid request` / `Bad ID token`, `invalid nonce` / `Nonces mismatch`, …)."""

    def __init__(self, description: str, *, error: str = "invalid request", detail: str = "") -> None:
        super().__init__(f"{description}: {detail}" if detail else description)
        self.error = error
        self.description = description
        self.detail = detail


class OAuthProvider(Protocol):
    """One external provider for the authorization-code flow (GoTrue's `OAuthProvider`).

    `requires_pkce`: `/authorize` must generate a verifier, keep it (`oauth_client_states`) and
    pass it to `exchange_code`. `form_post`: the provider answers `/callback` with a POST form."""

    name: str
    requires_pkce: bool
    form_post: bool

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        """Async: an OIDC provider may need its discovery document first."""
        ...

    async def exchange_code(self, code: str, *, code_verifier: str = "") -> ProviderTokens:
        """Raises `OAuthProviderError` (a failed exchange is GoTrue's 500 "Unable to exchange external code")."""
        ...

    async def user_data(self, tokens: ProviderTokens, callback: Mapping[str, str] | None = None) -> UserProvidedData:
        """The person behind `tokens`; `callback` is the callback's parameters (Apple's `user`).
        Raises `OAuthProviderError` or `IdTokenRejected`."""
        ...


class IdTokenProvider(Protocol):
    """A provider whose id_tokens sign people in directly (`POST /token?grant_type=id_token`)."""

    name: str

    async def verify_id_token(self, id_token: str, check: IdTokenCheck) -> UserProvidedData:
        """Raises `IdTokenRejected` for a bad token, `OAuthProviderError` when discovery/JWKS fail."""
        ...


class OAuth1Provider(Protocol):
    """Twitter's OAuth 1.0a sign-in (GoTrue's `twitter` provider): `/authorize` asks for a request
    token and redirects to the provider; `/callback` gets `oauth_token` and `oauth_verifier`."""

    name: str

    async def authorization_url(self, request: AuthorizationRequest) -> str: ...

    async def access_token(self, oauth_token: str, oauth_verifier: str) -> ProviderTokens:
        """The access token (`extra["oauth_token_secret"]` keeps its secret). Raises `OAuthProviderError`."""
        ...

    async def user_data(self, tokens: ProviderTokens, callback: Mapping[str, str] | None = None) -> UserProvidedData: ...


class ProviderNotUsable(Exception):
    """The provider is unknown, disabled or misconfigured; the message is GoTrue's reason."""


class ProviderDisabled(ProviderNotUsable):
    """The provider is known but not enabled (GoTrue's `provider_disabled`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdTokenSignIn:
    """Who judges an id_token of the id_token grant: `provider` is the name the identity is
    recorded under (the issuer itself for the deprecated `client_id` + `issuer` form),
    `audiences` the client ids the token's `aud` must contain one of."""

    provider: str
    verifier: IdTokenProvider
    audiences: tuple[str, ...]
    email_optional: bool = False


class ExternalProviders(Protocol):
    """The configured providers by name (adapters build them from the `External` section)."""

    def code_flow(self, name: str) -> OAuthProvider | OAuth1Provider:
        """The provider's code flow; `ProviderNotUsable` when it cannot run."""
        ...

    def id_token(self, *, provider: str, issuer: str, client_id: str, id_token: str) -> IdTokenSignIn:
        """The verifier for `POST /token?grant_type=id_token`, chosen by provider name or by issuer
        as GoTrue chooses it; `ProviderDisabled` when it is not enabled, `ProviderNotUsable`
        (GoTrue's `validation_failed` message) when no provider or allowed issuer matches."""
        ...
