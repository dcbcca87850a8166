"""The configuration, declared once as typed sections that mirror GoTrue's configuration structs.

Each section is a frozen dataclass; each field carries its type, default and meaning, and
(only where GoTrue's envconfig would not derive it) its variable name. A variable's name is
derived as envconfig derives it with `split_words`: `GOTRUE_` + the section path + the field
name in upper case (`Mailer.otp_exp` → `GOTRUE_MAILER_OTP_EXP`). The loader in
`pytrue.entrypoints.settings` reads the environment by walking these declarations; nothing
else names a variable. Use cases receive only the sections they obey (docs/adr/0019).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pytrue.domain.external import parse_linking_domains
from pytrue.domain.phone import DEFAULT_SMS_TEMPLATE, SMS_PROVIDERS, SmsTestOtps
from pytrue.domain.links import DEFAULT_VERIFY_PATH, verify_link
from pytrue.domain.locale import DEFAULT_LOCALE_KEY
from pytrue.domain.rate import Rate
from pytrue.domain.redirects import RedirectPolicy
from pytrue.domain.values import PasswordPolicy

PREFIX = "GOTRUE_"
DEFAULT_ADMIN_ROLES = ("service_role", "supabase_admin")
DEFAULT_SITE_URL = "http://localhost:3000"
DEFAULT_ID_TOKEN_ISSUERS = ("https://appleid.apple.com", "https://accounts.google.com")
OAUTH_PROVIDERS = (
    "apple",
    "azure",
    "bitbucket",
    "discord",
    "facebook",
    "figma",
    "fly",
    "github",
    "gitlab",
    "google",
    "kakao",
    "keycloak",
    "linkedin_oidc",
    "notion",
    "slack_oidc",
    "snapchat",
    "spotify",
    "twitch",
    "twitter",
    "vercel_marketplace",
    "workos",
    "x",
    "zoom",
)  # links and redirects when GOTRUE_SITE_URL is not required (tests, scripts)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Var:
    """How one field is read from the environment (metadata of a `setting()` field)."""

    doc: str
    env: str | None = None  # the full name, when it is not the derived one
    also: tuple[str, ...] = ()  # fallbacks read when the first name is unset (GoTrue's un-prefixed names)
    secret: bool = False  # never shown in repr or error messages
    kind: str | None = None  # a loader parser for syntax the type does not say (url, port, jwks, …)
    unit: str | None = None  # "s": an integer number of seconds read into a timedelta
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    fix: Callable[[Any], Any] | None = None  # GoTrue's clamp after parsing (0 → default, …)
    required: bool = False  # at start (`serve`); scripts and tests may load without


@dataclass(frozen=True, slots=True)
class SectionInfo:
    env: str | None  # the section's name segment, when it is not the field name upper-cased ("" = none)
    doc: str = ""


def setting(default: T, doc: str, **spec: Any) -> T:
    """A configuration field: its default, its meaning, and how it is read (see `Var`)."""
    meta = {"var": Var(doc, **spec)}
    if isinstance(default, (dict, list, set)):
        copy = default.copy()
        return field(default_factory=lambda: copy.copy(), metadata=meta)  # type: ignore[return-value]
    return field(default=default, metadata=meta)


def section(kind: type[T], *, env: str | None = None, doc: str = "") -> T:
    """A nested section; its variables are named under `env` (default: the field name)."""
    return field(default_factory=kind, metadata={"section": SectionInfo(env, doc)})  # type: ignore[return-value]


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***` (unparsable input is fully hidden)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
    except ValueError:
        return "***"


class Section:
    """Base of every section: a `repr` that hides secrets and database passwords."""

    __slots__ = ()

    def __repr__(self) -> str:
        shown = []
        for item in fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            var = item.metadata.get("var")
            if var is not None and var.secret and var.kind == "dsn":
                text = repr(redact_url(value))
            elif var is not None and var.secret:
                text = "'***'" if value else repr(value)
            else:
                text = repr(value)
            shown.append(f"{item.name}={text}")
        return f"{type(self).__name__}({', '.join(shown)})"


declared = dataclass(frozen=True, slots=True, kw_only=True, repr=False)


def _or(default: Any) -> Callable[[Any], Any]:
    """GoTrue's "a zero or empty value means the default"."""
    return lambda value: value or default


def _positive(value: timedelta | None) -> timedelta | None:
    return value if value is not None and value > timedelta(0) else None


def _positive_or(default: timedelta) -> Callable[[timedelta | None], timedelta]:
    return lambda value: _positive(value) or default


# ---------------------------------------------------------------------------------------------
# GoTrue's GlobalConfiguration, section by section (config.md).


@declared
class Site(Section):
    """Top-level variables of GoTrue's GlobalConfiguration (config.md §2)."""

    site_url: str = setting("", "Default redirect target for all flows; same-host redirects are always allowed.", kind="url", required=True)
    uri_allow_list: tuple[str, ...] = setting((), "Additional permitted redirect_to targets (comma-separated globs).", kind="allow_list")
    disable_signup: bool = setting(False, "Block every path that creates a user except invites and the admin API.")

    @property
    def redirects(self) -> RedirectPolicy:
        return RedirectPolicy(self.site_url or DEFAULT_SITE_URL, self.uri_allow_list)


@declared
class Api(Section):
    """APIConfiguration (config.md §3)."""

    host: str = setting("", "Listen address (empty: all interfaces).")
    port: int = setting(8081, "Listen port.", env="GOTRUE_API_PORT", also=("PORT",), kind="port")
    external_url: str = setting(
        "", "Public URL of the auth server; base of email links.", env="GOTRUE_API_API_EXTERNAL_URL",
        also=("API_EXTERNAL_URL",), kind="url", required=True,
    )
    request_id_header: str = setting(
        "", "Request header whose value becomes the request id (logs, error_id).",
        env="GOTRUE_API_REQUEST_ID_HEADER", also=("REQUEST_ID_HEADER",),
    )
    internal_http_timeout: timedelta = setting(
        timedelta(seconds=10), "Timeout of outbound calls to SMS and OAuth providers.", env="GOTRUE_INTERNAL_HTTP_TIMEOUT",
        fix=_positive_or(timedelta(seconds=10)),
    )


@declared
class Cors(Section):
    allowed_headers: tuple[str, ...] = setting((), "Extra CORS request headers.")


@declared
class Db(Section):
    """DBConfiguration (config.md §4) and pytrue's pool settings."""

    driver: str = setting("postgres", "Storage: postgres, or memory (no database; development and tests).", choices=("memory", "postgres"))
    url: str = setting(
        "", "PostgreSQL connection string (required when the driver is postgres).",
        env="GOTRUE_DB_DATABASE_URL", also=("DATABASE_URL",), secret=True, kind="dsn",
    )
    max_pool_size: int = setting(0, "Most connections one `pytrue serve` opens, all workers together (0: pytrue's budget).", minimum=0)
    namespace: str = setting(
        "auth", "Schema of the auth tables.", env="GOTRUE_DB_DB_NAMESPACE",
        also=("DB_NAMESPACE", "GOTRUE_DB_NAMESPACE"), fix=_or("auth"),
    )
    cleanup_enabled: bool = setting(False, "After each successful write request, delete a few stale rows.")
    pool_mode: str = setting(
        "session", "How DATABASE_URL is pooled: transaction behind PgBouncer/Supavisor in transaction mode.",
        env="PYTRUE_DB_POOL_MODE", kind="lower_choice", choices=("session", "transaction"),
    )
    pool_timeout: float = setting(2.0, "Longest wait for a pooled connection (Go duration).", env="PYTRUE_DB_POOL_TIMEOUT", kind="seconds_float")
    transaction_timeout: float = setting(
        5.0, "Longest a request may hold a transaction (Go duration).", env="PYTRUE_DB_TRANSACTION_TIMEOUT", kind="seconds_float"
    )


@declared
class Logging(Section):
    level: str = setting("info", "panic, fatal, error, warn, info, debug or trace.", env="GOTRUE_LOG_LEVEL", also=("LOG_LEVEL",), kind="log_level")
    file: str = setting("", "Append the JSON log lines to this file instead of standard error (empty: standard error).", also=("LOG_FILE",))
    disable_colors: bool = setting(False, "Accepted for GoTrue compatibility: the JSON lines have no colours.")


@declared
class Jwt(Section):
    """JWTConfiguration (config.md §7)."""

    secret: str = setting("", "HS256 signing secret.", secret=True, kind="jwt_secret", required=True)
    exp: int = setting(3600, "Access-token lifetime in seconds (0: 3600).", minimum=0, fix=_or(3600))
    aud: str = setting("", "Audience of issued tokens (empty: authenticated).")
    admin_roles: tuple[str, ...] = setting(DEFAULT_ADMIN_ROLES, "Roles allowed on the admin API.", fix=_or(DEFAULT_ADMIN_ROLES))
    admin_group_name: str = setting("admin", "Legacy admin group name.", fix=_or("admin"))
    default_group_name: str = setting("", "Legacy default group name.")
    issuer: str = setting("", "The iss claim.")
    key_id: str = setting("", "kid of the HS256 secret.")
    keys: tuple[dict[str, Any], ...] = setting((), "JWKS (JSON) of signing and verification keys.", secret=True, kind="jwks")
    valid_methods: tuple[str, ...] | None = setting(None, "Accepted signing algorithms (comma-separated).", kind="valid_methods")


@declared
class MailerTexts(Section):
    """One text per mail kind (GOTRUE_MAILER_SUBJECTS_* / _TEMPLATES_*); empty: pytrue's default."""

    invite: str = setting("", "Invite mail.")
    confirmation: str = setting("", "Sign-up confirmation mail.")
    recovery: str = setting("", "Password recovery mail.")
    magic_link: str = setting("", "Magic link mail.")
    email_change: str = setting("", "Email change mail.")
    reauthentication: str = setting("", "Reauthentication code mail.")
    password_changed_notification: str = setting("", "Notice that the password was changed.")
    email_changed_notification: str = setting("", "Notice (to the old address) that the email address was changed.")
    phone_changed_notification: str = setting("", "Notice that the phone number was changed.")
    identity_linked_notification: str = setting("", "Notice that an identity was linked.")
    identity_unlinked_notification: str = setting("", "Notice that an identity was unlinked.")
    mfa_factor_enrolled_notification: str = setting("", "Notice that an MFA factor was enrolled.")
    mfa_factor_unenrolled_notification: str = setting("", "Notice that an MFA factor was unenrolled.")

    def given(self) -> dict[str, str]:
        """The kinds set to a non-empty value."""
        return {item.name: getattr(self, item.name) for item in fields(self) if getattr(self, item.name)}


@declared
class MailerNotifications(Section):
    """Which security notification emails are sent (NotificationsConfiguration; docs/adr/0031)."""

    password_changed_enabled: bool = setting(False, "Mail the user when their password was changed.")
    email_changed_enabled: bool = setting(False, "Mail the old address when the email address was changed.")
    phone_changed_enabled: bool = setting(False, "Mail the user when their phone number was changed.")
    identity_linked_enabled: bool = setting(False, "Mail the user when an identity was linked to the account.")
    identity_unlinked_enabled: bool = setting(False, "Mail the user when an identity was unlinked.")
    mfa_factor_enrolled_enabled: bool = setting(False, "Mail the user when an MFA factor was verified for the first time.")
    mfa_factor_unenrolled_enabled: bool = setting(False, "Mail the user when an MFA factor was removed.")

    def enabled(self, kind: str) -> bool:
        """Whether the notification `kind` (`password_changed_notification`, …) is switched on."""
        return bool(getattr(self, kind.removesuffix("_notification") + "_enabled", False))


@declared
class MailerUrlPaths(Section):
    """Path (or full URL) of each mail kind's link, replacing API_EXTERNAL_URL's path."""

    invite: str = setting(DEFAULT_VERIFY_PATH, "Invite link path.", fix=_or(DEFAULT_VERIFY_PATH))
    confirmation: str = setting(DEFAULT_VERIFY_PATH, "Confirmation link path.", fix=_or(DEFAULT_VERIFY_PATH))
    recovery: str = setting(DEFAULT_VERIFY_PATH, "Recovery and magic link path.", fix=_or(DEFAULT_VERIFY_PATH))
    email_change: str = setting(DEFAULT_VERIFY_PATH, "Email change link path.", fix=_or(DEFAULT_VERIFY_PATH))


@declared
class Smtp(Section):
    """SMTPConfiguration (config.md §8)."""

    host: str = setting("", "SMTP server (empty: mail goes to the log and the development inbox).")
    port: int = setting(587, "SMTP port.", minimum=1)
    user: str = setting("", "SMTP user.")
    password: str = setting("", "SMTP password.", env="GOTRUE_SMTP_PASS", secret=True)
    admin_email: str = setting("", "From address.")
    sender_name: str = setting("", "From display name.")
    max_frequency: timedelta = setting(
        timedelta(minutes=1), "Minimum interval between mails of one kind to one user.", fix=_positive_or(timedelta(minutes=1))
    )
    headers: dict[str, tuple[str, ...]] = setting({}, 'Extra headers as JSON: {"X-Header": ["value"]}.', kind="smtp_headers")
    logging_enabled: bool = setting(
        False, "Log each SMTP exchange at info on pytrue.smtp (envelope, Message-ID, replies; never credentials or body)."
    )


@declared
class Mailer(Section):
    """MailerConfiguration (config.md §8) and pytrue's mail outbox."""

    autoconfirm: bool = setting(False, "Skip email confirmation.")
    allow_unverified_email_sign_ins: bool = setting(False, "OAuth users whose provider email is unverified may sign in.")
    secure_email_change_enabled: bool = setting(True, "An email change needs confirming from both addresses.")
    otp_exp: timedelta = setting(timedelta(seconds=86400), "Email code and link validity in seconds (0: 86400).", unit="s", minimum=0, fix=_or(timedelta(seconds=86400)))
    otp_length: int = setting(6, "Email code digits (outside 6–10: 6).", fix=lambda v: v if 6 <= v <= 10 else 6)
    subjects: MailerTexts = section(MailerTexts, doc="Subject per mail kind.")
    templates: MailerTexts = section(MailerTexts, doc="Template URL per mail kind.")
    url_paths: MailerUrlPaths = section(MailerUrlPaths, env="URLPATHS", doc="Link path per mail kind.")
    notifications: MailerNotifications = section(MailerNotifications, doc="Security notification switches.")
    template_max_size: int = setting(1_000_000, "Largest template fetched, in bytes.", minimum=1)
    template_max_age: timedelta = setting(timedelta(minutes=10), "How long a fetched template is used.", fix=_positive_or(timedelta(minutes=10)))
    template_retry_interval: timedelta = setting(
        timedelta(seconds=10), "Wait before fetching a failed template again.", fix=_positive_or(timedelta(seconds=10))
    )
    delivery: str = setting(
        "outbox", "outbox (sent after the response, retried) or inline (GoTrue's: sent within the request).",
        env="PYTRUE_MAILER_DELIVERY", kind="lower_choice", choices=("outbox", "inline"),
    )
    outbox_retry_interval: timedelta = setting(
        timedelta(seconds=15), "Wait before retrying an unsent mail.", env="PYTRUE_MAILER_OUTBOX_RETRY_INTERVAL",
        fix=_positive_or(timedelta(seconds=15)),
    )
    outbox_fail_fast_after: timedelta | None = setting(
        timedelta(minutes=10), "Refuse new mail once the oldest unsent one is this old (0: never).",
        env="PYTRUE_MAILER_OUTBOX_FAIL_FAST_AFTER", fix=_positive,
    )
    outbox_poll_interval: timedelta = setting(
        timedelta(seconds=2), "How often the outbox worker looks for mail.", env="PYTRUE_MAILER_OUTBOX_POLL_INTERVAL",
        fix=_positive_or(timedelta(seconds=2)),
    )
    dev_inbox_file: str = setting("", "File the development inbox keeps its mail in.", env="PYTRUE_DEV_INBOX_FILE")
    locale_key: str = setting(
        DEFAULT_LOCALE_KEY, "The user_metadata key naming the user's mail locale (fr, fr-CA, pt_BR; empty: none).",
        env="PYTRUE_MAILER_LOCALE_KEY",
    )
    localized_templates: str = setting(
        "", "Directory or http(s) base URL holding LOCALE/KIND.html and LOCALE/subjects.json (empty: none; docs/localised-email.md).",
        env="PYTRUE_MAILER_LOCALIZED_TEMPLATES",
    )
    verify_confirmation_page: bool = setting(
        False, "GET /verify shows a confirmation button and POST spends the link (mail scanners cannot).",
        env="PYTRUE_VERIFY_CONFIRMATION_PAGE",
    )


@declared
class TwilioSms(Section):
    account_sid: str = setting("", "Twilio account SID.")
    auth_token: str = setting("", "Twilio auth token.", secret=True)
    message_service_sid: str = setting("", "Sender number or Messaging Service SID.")
    content_sid: str = setting("", "WhatsApp content template SID (WhatsApp messages use it instead of the text).")
    api_url: str = setting("https://api.twilio.com", "Base URL of the provider's API (a proxy, or a stand-in in tests).", env="PYTRUE_SMS_TWILIO_API_URL", kind="url")


@declared
class TwilioVerifySms(Section):
    account_sid: str = setting("", "Twilio account SID.")
    auth_token: str = setting("", "Twilio auth token.", secret=True)
    message_service_sid: str = setting("", "Twilio Verify service SID.")
    api_url: str = setting("https://verify.twilio.com", "Base URL of the provider's API (a proxy, or a stand-in in tests).", env="PYTRUE_SMS_TWILIO_VERIFY_API_URL", kind="url")


@declared
class MessageBirdSms(Section):
    access_key: str = setting("", "MessageBird access key.", secret=True)
    originator: str = setting("", "Sender shown to the user.")
    api_url: str = setting("https://rest.messagebird.com", "Base URL of the provider's API (a proxy, or a stand-in in tests).", env="PYTRUE_SMS_MESSAGEBIRD_API_URL", kind="url")


@declared
class TextlocalSms(Section):
    api_key: str = setting("", "Textlocal API key.", secret=True)
    sender: str = setting("", "Sender shown to the user.")
    api_url: str = setting("https://api.textlocal.in", "Base URL of the provider's API (a proxy, or a stand-in in tests).", env="PYTRUE_SMS_TEXTLOCAL_API_URL", kind="url")


@declared
class VonageSms(Section):
    api_key: str = setting("", "Vonage API key.")
    api_secret: str = setting("", "Vonage API secret.", secret=True)
    sender: str = setting("", "Sender shown to the user.", env="GOTRUE_SMS_VONAGE_FROM")
    api_url: str = setting("https://rest.nexmo.com", "Base URL of the provider's API (a proxy, or a stand-in in tests).", env="PYTRUE_SMS_VONAGE_API_URL", kind="url")


@declared
class Sms(Section):
    """SmsProviderConfiguration (config.md §9)."""

    autoconfirm: bool = setting(False, "Skip phone confirmation.")
    otp_exp: timedelta = setting(timedelta(seconds=60), "SMS code validity in seconds (0: 60).", unit="s", minimum=0, fix=_or(timedelta(seconds=60)))
    otp_length: int = setting(6, "SMS code digits (outside 6–10: 6).", fix=lambda v: v if 6 <= v <= 10 else 6)
    max_frequency: timedelta = setting(
        timedelta(minutes=1), "Minimum interval between SMS of one kind to one user.", fix=_positive_or(timedelta(minutes=1))
    )
    provider: str = setting("", "twilio, twilio_verify, messagebird, textlocal or vonage (empty: none).", choices=("", *SMS_PROVIDERS))
    template: str = setting(DEFAULT_SMS_TEMPLATE, "SMS text, a Go template with {{ .Code }}.", fix=_or(DEFAULT_SMS_TEMPLATE))
    test_otp: dict[str, str] = setting({}, "Fixed codes for test numbers (phone:code,…); nothing is sent to them.", kind="map")
    test_otp_valid_until: datetime | None = setting(None, "When the test codes stop working (RFC 3339; unset: never).", kind="time")
    twilio: TwilioSms = section(TwilioSms)
    twilio_verify: TwilioVerifySms = section(TwilioVerifySms)
    messagebird: MessageBirdSms = section(MessageBirdSms)
    textlocal: TextlocalSms = section(TextlocalSms)
    vonage: VonageSms = section(VonageSms)

    @property
    def test_otps(self) -> SmsTestOtps:
        return SmsTestOtps.of(self.test_otp, self.test_otp_valid_until)


@declared
class EmailProvider(Section):
    enabled: bool = setting(True, "Email sign-up, sign-in, codes and recovery.")
    magic_link_enabled: bool = setting(True, "Magic links and email /otp.")


@declared
class PhoneProvider(Section):
    enabled: bool = setting(False, "Phone sign-up, sign-in and codes.")


@declared
class AnonymousProvider(Section):
    enabled: bool = setting(False, "Anonymous sign-ins.")


@declared
class OAuthProvider(Section):
    """OAuthProviderConfiguration: one external provider (GOTRUE_EXTERNAL_<NAME>_*)."""

    enabled: bool = setting(False, "Sign-in with this provider.")
    client_id: tuple[str, ...] = setting((), "OAuth client id (several: any is accepted for id_token sign-in).")
    secret: str = setting("", "OAuth client secret.", secret=True)
    redirect_uri: str = setting("", "Callback URL registered with the provider.")
    url: str = setting("", "Base URL (self-hosted providers).")
    api_url: str = setting("", "Accepted and ignored, as in GoTrue: no provider reads it (the API host follows `_URL`).")
    email_optional: bool = setting(False, "Accept profiles without an email.")
    skip_nonce_check: bool = setting(False, "Accept id_tokens without a nonce.")


@declared
class External(Section):
    """ProviderConfiguration (config.md §2, §10)."""

    email: EmailProvider = section(EmailProvider)
    phone: PhoneProvider = section(PhoneProvider)
    anonymous_users: AnonymousProvider = section(AnonymousProvider)
    flow_state_expiry_duration: timedelta = setting(
        timedelta(seconds=300), "Lifetime of a PKCE flow state (at least 300s).", fix=lambda v: max(v or timedelta(0), timedelta(seconds=300))
    )
    apple: OAuthProvider = section(OAuthProvider)
    azure: OAuthProvider = section(OAuthProvider)
    bitbucket: OAuthProvider = section(OAuthProvider)
    discord: OAuthProvider = section(OAuthProvider)
    facebook: OAuthProvider = section(OAuthProvider)
    figma: OAuthProvider = section(OAuthProvider)
    fly: OAuthProvider = section(OAuthProvider)
    github: OAuthProvider = section(OAuthProvider)
    gitlab: OAuthProvider = section(OAuthProvider)
    google: OAuthProvider = section(OAuthProvider)
    kakao: OAuthProvider = section(OAuthProvider)
    keycloak: OAuthProvider = section(OAuthProvider)
    linkedin_oidc: OAuthProvider = section(OAuthProvider)
    notion: OAuthProvider = section(OAuthProvider)
    slack_oidc: OAuthProvider = section(OAuthProvider)
    snapchat: OAuthProvider = section(OAuthProvider)
    spotify: OAuthProvider = section(OAuthProvider)
    twitch: OAuthProvider = section(OAuthProvider)
    twitter: OAuthProvider = section(OAuthProvider)
    vercel_marketplace: OAuthProvider = section(OAuthProvider)
    workos: OAuthProvider = section(OAuthProvider)
    x: OAuthProvider = section(OAuthProvider)
    zoom: OAuthProvider = section(OAuthProvider)
    redirect_url: str = setting("", "Where /callback always redirects (overrides redirect_to and SITE_URL).", env="GOTRUE_EXTERNAL_REDIRECTURL")
    ios_bundle_id: str = setting("", "Extra audience accepted in Apple id_tokens (the iOS app's bundle id).")
    allowed_id_token_issuers: tuple[str, ...] = setting(
        DEFAULT_ID_TOKEN_ISSUERS, "Issuers accepted by the id_token grant's deprecated client_id + issuer form.",
        fix=_or(DEFAULT_ID_TOKEN_ISSUERS),
    )
    oidc_provider_cache_ttl: timedelta = setting(
        timedelta(hours=1), "How long OIDC discovery documents and key sets are cached.", fix=_positive_or(timedelta(hours=1))
    )

    @property
    def provider_names(self) -> tuple[str, ...]:
        """Every external OAuth/OIDC provider declared here."""
        return OAUTH_PROVIDERS

    def provider(self, name: str) -> OAuthProvider | None:
        """The section of provider `name`, None when pytrue knows no such provider."""
        return getattr(self, name) if name in OAUTH_PROVIDERS else None


@declared
class Experimental(Section):
    """ExperimentalConfiguration: features GoTrue marks experimental."""

    provider_linking_domains: str = setting(
        "", "provider=domain pairs (comma-separated): providers sharing a domain link accounts by email only among themselves."
    )

    @property
    def linking_domains(self) -> dict[str, str]:
        return parse_linking_domains(self.provider_linking_domains)


@declared
class HibpBloom(Section):
    """HIBPBloomConfiguration: the cache of hashes found pwned."""

    enabled: bool = setting(False, "Keep hashes found pwned in a Bloom filter (no request for them again).")
    items: int = setting(100000, "Entries the filter is sized for.", minimum=1)
    false_positives: float = setting(0.0000099, "The filter's false-positive probability.")


@declared
class Hibp(Section):
    """HIBPConfiguration: refuse passwords found in Pwned Passwords (haveibeenpwned.com)."""

    enabled: bool = setting(False, "Check new passwords (and sign-ins) against Pwned Passwords.")
    fail_closed: bool = setting(False, "Refuse passwords when the API cannot be asked (else let them through).")
    user_agent: str = setting("https://github.com/supabase/gotrue", "User-Agent of the range requests.")
    bloom: HibpBloom = section(HibpBloom)
    api_url: str = setting(
        "", "The range API (empty: api.pwnedpasswords.com/range/; a stand-in in tests).", env="PYTRUE_PASSWORD_HIBP_API_URL", kind="url"
    )


@declared
class Password(Section):
    """PasswordConfiguration (config.md §2) and pytrue's argon2id cost."""

    min_length: int = setting(6, "Minimum password length (below 6: 6).", fix=lambda v: max(6, v))
    required_characters: str = setting("", "':'-separated character sets a password needs one of each ('\\:' is a colon).")
    hash_argon2_memory: int = setting(19456, "argon2id memory of new hashes, KiB.", minimum=8)
    hash_argon2_iterations: int = setting(2, "argon2id passes of new hashes.", minimum=1)
    hash_argon2_parallelism: int = setting(1, "argon2id lanes of new hashes.", minimum=1)
    hibp: Hibp = section(Hibp)

    @property
    def policy(self) -> PasswordPolicy:
        return PasswordPolicy(
            min_length=self.min_length,
            required_characters=PasswordPolicy.parse_required_characters(self.required_characters),
        )


CAPTCHA_PROVIDERS = ("hcaptcha", "turnstile")


@declared
class Captcha(Section):
    """CaptchaConfiguration (config.md §11, api.md §0.6)."""

    enabled: bool = setting(False, "Sign-ups, sign-ins and the code/link routes need a CAPTCHA token.")
    provider: str = setting("hcaptcha", "hcaptcha or turnstile.", choices=CAPTCHA_PROVIDERS)
    secret: str = setting("", "The provider's secret key.", secret=True)
    timeout: timedelta = setting(timedelta(seconds=10), "How long a siteverify call may take.", fix=_positive_or(timedelta(seconds=10)))
    verify_url: str = setting(
        "", "The siteverify endpoint (empty: the provider's own; a stand-in in tests).", env="PYTRUE_SECURITY_CAPTCHA_VERIFY_URL", kind="url"
    )


@declared
class Security(Section):
    """SecurityConfiguration (config.md §11) and pytrue's code-guessing limit."""

    refresh_token_rotation_enabled: bool = setting(True, "A used refresh token outside the reuse interval revokes its session.")
    refresh_token_reuse_interval: timedelta = setting(timedelta(0), "Seconds a used refresh token may be presented again.", unit="s", minimum=0)
    refresh_token_algorithm_version: int = setting(0, "0 or 1: stored tokens; 2: session-counter tokens.", choices=(0, 1, 2))
    refresh_token_upgrade_percentage: int = setting(0, "Share of legacy sessions moved to v2 tokens on refresh.", minimum=0, maximum=100)
    refresh_token_allow_reuse: bool = setting(False, "v2: any earlier counter gets the current token.")
    update_password_require_reauthentication: bool = setting(False, "A password change needs a reauthentication nonce.")
    update_password_require_current_password: bool = setting(False, "A password change needs the current password.")
    sb_forwarded_for_enabled: bool = setting(False, "Trust Sb-Forwarded-For as the client IP.")
    manual_linking_enabled: bool = setting(False, "Signed-in users may link and unlink identities (/user/identities).")
    otp_max_failed_attempts: int = setting(5, "Wrong guesses after which a code is spent.", env="PYTRUE_OTP_MAX_FAILED_ATTEMPTS", minimum=1)
    captcha: Captcha = section(Captcha)


@declared
class Sessions(Section):
    """SessionsConfiguration (config.md §12)."""

    timebox: timedelta | None = setting(None, "Longest session age (unset: no limit).", fix=_positive)
    inactivity_timeout: timedelta | None = setting(None, "Longest time between refreshes (unset: no limit).", fix=_positive)
    allow_low_aal: timedelta | None = setting(
        None, "For users with a verified MFA factor: how long an aal1 session lives (unset: no limit).", fix=_positive
    )

    single_per_user: bool = setting(
        False, "Only the user's most recently refreshed live session (per tag) may refresh; older ones are refused."
    )
    tags: tuple[str, ...] = setting(
        (), "Session tags for GOTRUE_SESSIONS_SINGLE_PER_USER (comma-separated; a session without a listed tag counts as the first)."
    )


@declared
class MfaTotp(Section):
    """TOTPFactorTypeConfiguration."""

    enroll_enabled: bool = setting(True, "Users may enroll TOTP factors.")
    verify_enabled: bool = setting(True, "TOTP factors may be challenged and verified.")


@declared
class MfaPhone(Section):
    """PhoneFactorTypeConfiguration."""

    enroll_enabled: bool = setting(False, "Users may enroll phone factors.")
    verify_enabled: bool = setting(False, "Phone factors may be challenged and verified.")
    otp_length: int = setting(6, "Digits of a phone factor's code (outside 6–10: 6).", fix=lambda v: v if 6 <= v <= 10 else 6)
    max_frequency: timedelta = setting(
        timedelta(minutes=1), "Minimum interval between two challenges of one phone factor.", fix=_positive_or(timedelta(minutes=1))
    )
    template: str = setting(DEFAULT_SMS_TEMPLATE, "SMS text, a Go template with {{ .Code }}.", fix=_or(DEFAULT_SMS_TEMPLATE))


@declared
class MfaWebAuthn(Section):
    """MFAFactorTypeConfiguration for WebAuthn."""

    enroll_enabled: bool = setting(False, "Users may enroll WebAuthn factors.")
    verify_enabled: bool = setting(False, "WebAuthn factors may be challenged and verified.")


@declared
class WebAuthn(Section):
    """WebAuthnConfiguration: the relying party WebAuthn factors are registered with and proven to."""

    rp_id: str = setting("", "Relying party id, a domain such as example.com (needed when WebAuthn factors are enabled).")
    rp_display_name: str = setting("", "Relying party name authenticators show (needed when WebAuthn factors are enabled).")
    rp_origins: tuple[str, ...] = setting(
        (), "Origins a WebAuthn response may come from, comma-separated (needed when WebAuthn factors are enabled)."
    )
    challenge_expiry_duration: timedelta = setting(
        timedelta(minutes=5), "Validity of a passkey ceremony (GoTrue's passkeys; WebAuthn factors use GOTRUE_MFA_CHALLENGE_EXPIRY_DURATION)."
    )

    def missing(self) -> str | None:
        """The first variable GoTrue's `WebAuthnConfiguration.Validate` finds unset, or None."""
        if not self.rp_id:
            return "GOTRUE_WEBAUTHN_RP_ID"
        if not self.rp_display_name:
            return "GOTRUE_WEBAUTHN_RP_DISPLAY_NAME"
        if not self.rp_origins:
            return "GOTRUE_WEBAUTHN_RP_ORIGINS"
        return None


@declared
class Mfa(Section):
    """MFAConfiguration (config.md §12)."""

    challenge_expiry_duration: timedelta = setting(
        timedelta(seconds=300), "Challenge validity in seconds (at least 300).", unit="s",
        fix=lambda v: max(v or timedelta(0), timedelta(seconds=300)),
    )
    factor_expiry_duration: timedelta = setting(
        timedelta(seconds=300), "Unverified factors older than this are deleted on the next enrolment (at least 300s).",
        fix=lambda v: max(v or timedelta(0), timedelta(seconds=300)),
    )
    rate_limit_challenge_and_verify: float = setting(15.0, "Challenge and verify requests per IP per minute (burst 30).")
    max_enrolled_factors: float = setting(10.0, "Most factors a user may have.")
    max_verified_factors: int = setting(10, "Most verified factors a user may have.")
    totp: MfaTotp = section(MfaTotp)
    phone: MfaPhone = section(MfaPhone)
    web_authn: MfaWebAuthn = section(MfaWebAuthn)


@declared
class RateLimit(Section):
    """GoTrue's RateLimit* top-level variables (config.md §6)."""

    header: str = setting("", "Trusted header whose first value keys the per-IP limits (empty: no per-IP limits).")
    email_sent: Rate = setting(Rate(30), "Emails per hour for all processes (N, or N/duration: a token bucket).")
    sms_sent: Rate = setting(Rate(30), "SMS per hour for all processes.")
    token_refresh: float = setting(150.0, "Token requests per IP per 5 minutes.")
    verify: float = setting(30.0, "Verify requests per IP per 5 minutes.")
    otp: float = setting(30.0, "OTP requests per IP per 5 minutes.")
    anonymous_users: float = setting(30.0, "Anonymous sign-ins per IP per hour.")


@declared
class HookEndpoint(Section):
    """One auth hook (GOTRUE_HOOK_<NAME>_*): an http(s) URI or pg-functions://postgres/<schema>/<function>."""

    enabled: bool = setting(False, "Call this hook.")
    uri: str = setting("", "Where the hook runs (http only to a local host).", kind="hook_uri")
    secrets: str = setting("", "Standard Webhooks secrets, v1,whsec_<base64>, separated by |.", secret=True, kind="hook_secrets")


@declared
class Hook(Section):
    """HookConfiguration (config.md §12): the hooks pytrue runs."""

    mfa_verification_attempt: HookEndpoint = section(HookEndpoint, doc="Judges every MFA verification; may reject it.")
    password_verification_attempt: HookEndpoint = section(HookEndpoint, doc="Judges every password sign-in; may reject it.")
    custom_access_token: HookEndpoint = section(HookEndpoint, doc="Rewrites the claims of every access token issued.")
    send_sms: HookEndpoint = section(HookEndpoint, doc="Sends every SMS instead of the provider.")
    send_email: HookEndpoint = section(HookEndpoint, doc="Sends every email instead of SMTP.")
    before_user_created: HookEndpoint = section(HookEndpoint, doc="Sees every new user before it is written; may refuse it.")
    after_user_created: HookEndpoint = section(HookEndpoint, doc="Is told of every user created.")


OTLP_PROTOCOLS = ("http/protobuf", "grpc")


@declared
class Tracing(Section):
    """TracingConfiguration (config.md §5): OpenTelemetry request spans, exported over OTLP (docs/adr/0030)."""

    enabled: bool = setting(False, "Trace every request (a server span, database and outbound HTTP child spans).")
    exporter: str = setting("opentelemetry", "Only opentelemetry (OTLP; the standard OTEL_* variables apply).", choices=("opentelemetry",))
    exporter_protocol: str = setting(
        "http/protobuf", "OTLP protocol of the trace exporter: http/protobuf or grpc (checked when tracing is enabled).",
        env="GOTRUE_TRACING_OTEL_EXPORTER_OTLP_PROTOCOL", also=("OTEL_EXPORTER_OTLP_PROTOCOL",), fix=_or("http/protobuf"),
    )
    service_name: str = setting("gotrue", "service.name of the spans, unless OTEL_SERVICE_NAME is set.")
    host: str = setting("", "Legacy (OpenTracing collector host): accepted, not used; set OTEL_EXPORTER_OTLP_ENDPOINT.")
    port: str = setting("", "Legacy (OpenTracing collector port): accepted, not used.")
    tags: dict[str, str] = setting({}, "Legacy (OpenTracing tags, key:value,…): accepted, not used; set OTEL_RESOURCE_ATTRIBUTES.", kind="map")


@declared
class Metrics(Section):
    """MetricsConfiguration (config.md §5): counters and histograms of every worker (docs/adr/0030)."""

    enabled: bool = setting(False, "Record metrics.")
    exporter: str = setting(
        "opentelemetry", "opentelemetry (pushed over OTLP) or prometheus (served on the host and port below).",
        choices=("opentelemetry", "prometheus"),
    )
    exporter_protocol: str = setting(
        "http/protobuf", "OTLP protocol of the opentelemetry metric exporter: http/protobuf or grpc.",
        env="GOTRUE_METRICS_OTEL_EXPORTER_OTLP_PROTOCOL", also=("OTEL_EXPORTER_OTLP_PROTOCOL",), fix=_or("http/protobuf"),
    )
    prometheus_listen_host: str = setting(
        "0.0.0.0", "Address of the Prometheus exporter (text exposition at / and /metrics).",
        env="GOTRUE_METRICS_OTEL_EXPORTER_PROMETHEUS_HOST", also=("OTEL_EXPORTER_PROMETHEUS_HOST",),
    )
    prometheus_listen_port: int = setting(
        9100, "Port of the Prometheus exporter.", env="GOTRUE_METRICS_OTEL_EXPORTER_PROMETHEUS_PORT",
        also=("OTEL_EXPORTER_PROMETHEUS_PORT",), kind="port",
    )


WEBHOOK_EVENTS = ("validate", "signup", "login")


@declared
class Webhook(Section):
    """WebhookConfig (config.md §8): GoTrue's legacy (Netlify) webhook, removed upstream in Feb 2024 (docs/adr/0032)."""

    url: str = setting(
        "", "Legacy webhook receiver of GOTRUE_WEBHOOK_EVENTS (empty: none): http(s), or a path joined to GOTRUE_SITE_URL's origin."
    )
    secret: str = setting("", "HS256 key of the x-webhook-signature JWT (empty: requests are not signed).", secret=True)
    retries: int = setting(3, "Attempts per event (0: 3).", minimum=0, fix=_or(3))
    timeout_sec: int = setting(5, "Seconds each attempt may take (0: 5).", minimum=0, fix=_or(5))
    events: tuple[str, ...] = setting(
        (), "Events sent, comma-separated: validate, signup, login.",
        fix=lambda items: tuple(item.strip() for item in items if item.strip()),
    )


@declared
class Settings(Section):
    """GoTrue's GlobalConfiguration, as pytrue reads it."""

    site: Site = section(Site, env="", doc="Top level.")
    api: Api = section(Api)
    cors: Cors = section(Cors)
    db: Db = section(Db)
    logging: Logging = section(Logging, env="LOG")
    jwt: Jwt = section(Jwt)
    smtp: Smtp = section(Smtp)
    mailer: Mailer = section(Mailer)
    sms: Sms = section(Sms)
    external: External = section(External)
    experimental: Experimental = section(Experimental)
    password: Password = section(Password)
    security: Security = section(Security)
    sessions: Sessions = section(Sessions)
    mfa: Mfa = section(Mfa)
    webauthn: WebAuthn = section(WebAuthn)
    rate_limit: RateLimit = section(RateLimit)
    hook: Hook = section(Hook)
    tracing: Tracing = section(Tracing)
    metrics: Metrics = section(Metrics)
    webhook: Webhook = section(Webhook)


# ---------------------------------------------------------------------------------------------
# Derived rules the use cases share.


@dataclass(frozen=True, slots=True)
class Links:
    """Where links point and redirects go: SITE_URL, the allow list, API_EXTERNAL_URL, URL paths."""

    redirects: RedirectPolicy
    api_external_url: str = ""
    url_paths: MailerUrlPaths = field(default_factory=MailerUrlPaths)

    @classmethod
    def of(cls, settings: Settings) -> Links:
        return cls(settings.site.redirects, settings.api.external_url, settings.mailer.url_paths)

    @property
    def site_url(self) -> str:
        return self.redirects.site_url

    def verify_link(self, token: str, link_type: str, redirect_to: str) -> str:
        """The link a message or `generate_link` carries for this token (magic links use the recovery path)."""
        paths = self.url_paths
        path = {
            "signup": paths.confirmation,
            "invite": paths.invite,
            "magiclink": paths.recovery,
            "recovery": paths.recovery,
            "email_change": paths.email_change,
        }.get(link_type, DEFAULT_VERIFY_PATH)
        return verify_link(self.api_external_url, path, token, link_type, redirect_to)

    def redirect_target(self, redirect_to: str | None, referer: str | None = None) -> str:
        """Where a link or redirect goes: a valid `redirect_to`, else a valid Referer, else SITE_URL."""
        return self.redirects.resolve(redirect_to, referer)


def leaf_default(item: Any) -> Any:
    """A declared field's default value."""
    if item.default is not MISSING:
        return item.default
    return item.default_factory()
