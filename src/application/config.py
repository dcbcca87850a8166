"""The behaviour switches the use cases obey, decoupled from how they are configured."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from pytrue.domain.rate import Rate
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
    rate_limit_email_sent: Rate = Rate(30)  # GOTRUE_RATE_LIMIT_EMAIL_SENT, shared by all processes
    rate_limit_sms_sent: Rate = Rate(30)  # GOTRUE_RATE_LIMIT_SMS_SENT
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    refresh_token_rotation_enabled: bool = True
    refresh_token_reuse_interval: timedelta = timedelta(0)
    sessions_timebox: timedelta | None = None
    sessions_inactivity_timeout: timedelta | None = None
    refresh_retry_limit: timedelta = timedelta(seconds=5)
