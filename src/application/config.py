"""The behaviour switches the use cases obey, decoupled from how they are configured."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from pytrue.domain.links import DEFAULT_VERIFY_PATH, verify_link
from pytrue.domain.rate import Rate
from pytrue.domain.redirects import RedirectPolicy
from pytrue.domain.values import PasswordPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthConfig:
    site_url: str = "http://localhost:3000"
    jwt_exp: int = 3600
    jwt_aud: str = ""
    jwt_issuer: str = ""
    jwt_default_group_name: str = ""
    jwt_admin_group_name: str = "admin"
    jwt_admin_roles: tuple[str, ...] = ("service_role", "supabase_admin")
    disable_signup: bool = False
    external_email_enabled: bool = True
    external_phone_enabled: bool = False
    external_anonymous_users_enabled: bool = False
    mailer_autoconfirm: bool = False
    sms_autoconfirm: bool = False
    mailer_otp_length: int = 6
    mailer_otp_exp: timedelta = timedelta(seconds=86400)
    mailer_secure_email_change_enabled: bool = True
    smtp_max_frequency: timedelta = timedelta(minutes=1)
    sms_otp_exp: timedelta = timedelta(seconds=60)
    external_email_magic_link_enabled: bool = True
    flow_state_expiry: timedelta = timedelta(seconds=300)
    update_password_require_reauthentication: bool = False
    update_password_require_current_password: bool = False
    uri_allow_list: tuple[str, ...] = ()
    api_external_url: str = ""
    mailer_urlpath_invite: str = "/verify"
    mailer_urlpath_confirmation: str = "/verify"
    mailer_urlpath_recovery: str = "/verify"
    mailer_urlpath_email_change: str = "/verify"
    mailer_delivery: str = "outbox"  # PYTRUE_MAILER_DELIVERY: "outbox" (after the response) or "inline" (GoTrue's)
    mailer_outbox_fail_fast_after: timedelta | None = timedelta(minutes=10)  # None: never refuse
    rate_limit_email_sent: Rate = Rate(30)  # GOTRUE_RATE_LIMIT_EMAIL_SENT, shared by all processes
    rate_limit_sms_sent: Rate = Rate(30)  # GOTRUE_RATE_LIMIT_SMS_SENT
    otp_max_failed_attempts: int = 5  # wrong guesses after which a code is spent (docs/adr/0016)
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    refresh_token_rotation_enabled: bool = True
    refresh_token_reuse_interval: timedelta = timedelta(0)
    refresh_token_algorithm_version: int = 0  # 2: sessions issue v2 (session-counter) tokens
    refresh_token_upgrade_percentage: int = 0  # share of legacy sessions moved to v2 on refresh
    refresh_token_allow_reuse: bool = False  # v2: any earlier counter gets the current token
    sessions_timebox: timedelta | None = None
    sessions_inactivity_timeout: timedelta | None = None
    refresh_retry_limit: timedelta = timedelta(seconds=5)
    verify_confirmation_page: bool = False  # PYTRUE_VERIFY_CONFIRMATION_PAGE: GET /verify shows a button, POST spends
    redirects: RedirectPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "redirects", RedirectPolicy(self.site_url, self.uri_allow_list))

    def verify_link(self, token: str, link_type: str, redirect_to: str) -> str:
        """The link a message or `generate_link` carries for this token (magic links use the recovery path)."""
        path = {
            "signup": self.mailer_urlpath_confirmation,
            "invite": self.mailer_urlpath_invite,
            "magiclink": self.mailer_urlpath_recovery,
            "recovery": self.mailer_urlpath_recovery,
            "email_change": self.mailer_urlpath_email_change,
        }.get(link_type, DEFAULT_VERIFY_PATH)
        return verify_link(self.api_external_url, path, token, link_type, redirect_to)

    def redirect_target(self, redirect_to: str | None, referer: str | None = None) -> str:
        """Where a link or redirect goes: a valid `redirect_to`, else a valid Referer, else SITE_URL."""
        return self.redirects.resolve(redirect_to, referer)
