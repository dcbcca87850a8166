"""Settings: sources and precedence, GoTrue's value syntax, clamps, and secret hygiene."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from joserfc.jwk import OctKey, RSAKey

from dataclasses import asdict
from operator import attrgetter

from pytrue.application.config import RateLimit
from pytrue.domain.rate import Rate
from pytrue.entrypoints.settings import Settings, SettingsError, key_set, load_settings, read_dotenv

SECRET = "super-secret-jwt-value-0123456789"
DB_PASSWORD = "db-pass-wordXYZ"
SMTP_PASSWORD = "smtp-pass-wordXYZ"

BASE = {
    "GOTRUE_SITE_URL": "https://app.example.com",
    "API_EXTERNAL_URL": "https://abc.supabase.co/auth/v1",
    "GOTRUE_JWT_SECRET": SECRET,
    "GOTRUE_DB_DRIVER": "postgres",
    "DATABASE_URL": f"postgres://supabase_auth_admin:{DB_PASSWORD}@db:5432/postgres",
    "GOTRUE_SMTP_PASS": SMTP_PASSWORD,
}


def load(**overrides: str) -> Settings:
    return load_settings({**BASE, **overrides}, env_file=None)


def load_error(env: dict[str, str], **kwargs: object) -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        load_settings(env, env_file=None, **kwargs)  # type: ignore[arg-type]
    return caught.value


def jwk(key: RSAKey | OctKey, kid: str, alg: str, ops: list[str]) -> dict[str, object]:
    data = dict(key.as_dict(private=True))
    data.update(kid=kid, alg=alg, key_ops=ops)
    return data


def test_defaults() -> None:
    s = load()
    assert s.api.port == 8081
    assert s.api.host == ""
    assert s.jwt.exp == 3600
    assert s.jwt.aud == ""
    assert s.jwt.admin_roles == ("service_role", "supabase_admin")
    assert s.jwt.admin_group_name == "admin"
    assert s.jwt.default_group_name == ""
    assert s.jwt.valid_methods is None
    assert s.jwt.keys == ()
    assert s.external.email.enabled is True
    assert s.external.phone.enabled is False
    assert s.external.anonymous_users.enabled is False
    assert s.mailer.otp_length == 6
    assert s.mailer.otp_exp == timedelta(seconds=86400)
    assert s.password.min_length == 6
    assert s.security.refresh_token_rotation_enabled is True
    assert s.security.refresh_token_reuse_interval == timedelta(0)
    assert s.sessions.timebox is None
    assert s.sessions.inactivity_timeout is None
    assert s.logging.level == "info"
    assert s.db.driver == "postgres"
    assert s.db.namespace == "auth"
    assert s.db.max_pool_size == 0
    assert s.smtp.port == 587
    assert s.smtp.max_frequency == timedelta(minutes=1)
    assert s.mailer.secure_email_change_enabled is True
    assert s.rate_limit.email_sent == Rate(30) and s.rate_limit.sms_sent == Rate(30)
    assert (s.password.hash_argon2_memory, s.password.hash_argon2_iterations, s.password.hash_argon2_parallelism) == (19456, 2, 1)


def test_settings_are_frozen() -> None:
    s = load()
    with pytest.raises(AttributeError):
        s.api.port = 1  # type: ignore[misc]


def test_environment_wins_over_dotenv(tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment\n"
        "export GOTRUE_JWT_AUD=from-file\n"
        "GOTRUE_JWT_ISSUER='https://issuer.example'\n"
        'GOTRUE_JWT_DEFAULT_GROUP_NAME="authenticated" # trailing comment\n'
        "GOTRUE_JWT_EXP=1800\n"
        "\n"
        "GOTRUE_SMTP_HOST=smtp.example.com # inline comment\n"
    )
    s = load_settings({**BASE, "GOTRUE_JWT_EXP": "600"}, env_file=env_file)
    assert s.jwt.exp == 600
    assert s.jwt.aud == "from-file"
    assert s.jwt.issuer == "https://issuer.example"
    assert s.jwt.default_group_name == "authenticated"
    assert s.smtp.host == "smtp.example.com"


def test_set_but_empty_environment_still_wins_over_dotenv(tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("GOTRUE_JWT_AUD=from-file\n")
    s = load_settings({**BASE, "GOTRUE_JWT_AUD": ""}, env_file=env_file)
    assert s.jwt.aud == ""


def test_dotenv_supplies_required_values(tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(f"{key}={value}" for key, value in BASE.items()))
    s = load_settings({}, env_file=env_file)
    assert s.jwt.secret == SECRET
    assert s.site.site_url == "https://app.example.com"


def test_missing_dotenv_is_fine(tmp_path) -> None:
    s = load_settings(BASE, env_file=tmp_path / "nope.env")
    assert s.site.site_url == "https://app.example.com"


def test_dotenv_quoting_rules(tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        'DOUBLE="a\\nb \\"c\\" # not a comment"\n'
        "SINGLE='raw \\n # kept'\n"
        'MULTI="line1\nline2"\n'
        "EMPTY=\n"
        "SPACED = padded value   \n"
        "HASH=abc#def\n"
    )
    values = read_dotenv(env_file)
    assert values["DOUBLE"] == 'a\nb "c" # not a comment'
    assert values["SINGLE"] == "raw \\n # kept"
    assert values["MULTI"] == "line1\nline2"
    assert values["EMPTY"] == ""
    assert values["SPACED"] == "padded value"
    assert values["HASH"] == "abc#def"


def test_malformed_dotenv_names_file_and_line_without_content(tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"GOOD=1\n{SECRET}\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(BASE, env_file=env_file)
    assert "line 2" in str(caught.value)
    assert str(env_file) in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "attribute", "expected"),
    [
        ({"PORT": "9999"}, "api.port", 9999),
        ({"PORT": "9999", "GOTRUE_API_PORT": "7777"}, "api.port", 7777),
        ({"REQUEST_ID_HEADER": "X-Req"}, "api.request_id_header", "X-Req"),
        ({"REQUEST_ID_HEADER": "X-Req", "GOTRUE_API_REQUEST_ID_HEADER": "X-Other"}, "api.request_id_header", "X-Other"),
        ({"DB_NAMESPACE": "other"}, "db.namespace", "other"),
        ({"GOTRUE_DB_NAMESPACE": "ns2"}, "db.namespace", "ns2"),
        ({"DB_NAMESPACE": "other", "GOTRUE_DB_DB_NAMESPACE": "mine"}, "db.namespace", "mine"),
        ({"LOG_LEVEL": "debug"}, "logging.level", "debug"),
        ({"LOG_LEVEL": "debug", "GOTRUE_LOG_LEVEL": "error"}, "logging.level", "error"),
        ({"GOTRUE_LOG_LEVEL": "WARNING"}, "logging.level", "warn"),
    ],
)
def test_unprefixed_fallbacks(env: dict[str, str], attribute: str, expected: object) -> None:
    assert attrgetter(attribute)(load(**env)) == expected


def test_prefixed_external_url_and_database_url_win() -> None:
    s = load(
        GOTRUE_API_API_EXTERNAL_URL="https://auth.example.com",
        GOTRUE_DB_DATABASE_URL="postgres://u@other/db",
    )
    assert s.api.external_url == "https://auth.example.com"
    assert s.db.url == "postgres://u@other/db"


def test_external_url_fallback_alone() -> None:
    env = {k: v for k, v in BASE.items() if k != "API_EXTERNAL_URL"}
    s = load_settings({**env, "GOTRUE_API_API_EXTERNAL_URL": "https://auth.example.com"}, env_file=None)
    assert s.api.external_url == "https://auth.example.com"


@pytest.mark.parametrize("raw", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_true_values(raw: str) -> None:
    assert load(GOTRUE_DISABLE_SIGNUP=raw).site.disable_signup is True


@pytest.mark.parametrize("raw", ["0", "f", "F", "FALSE", "false", "False"])
def test_go_false_values(raw: str) -> None:
    assert load(GOTRUE_EXTERNAL_EMAIL_ENABLED=raw).external.email.enabled is False


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("GOTRUE_DISABLE_SIGNUP", "yes"),
        ("GOTRUE_DISABLE_SIGNUP", ""),
        ("GOTRUE_MAILER_AUTOCONFIRM", "tRuE"),
        ("GOTRUE_JWT_EXP", "abc"),
        ("GOTRUE_JWT_EXP", ""),
        ("GOTRUE_JWT_EXP", "1.5"),
        ("GOTRUE_JWT_EXP", "-5"),
        ("GOTRUE_MAILER_OTP_EXP", "-1"),
        ("GOTRUE_MAILER_OTP_LENGTH", "six"),
        ("GOTRUE_PASSWORD_MIN_LENGTH", "x"),
        ("GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL", "10s"),
        ("GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED", "on"),
        ("GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION", "3"),
        ("GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION", "v2"),
        ("GOTRUE_SECURITY_REFRESH_TOKEN_UPGRADE_PERCENTAGE", "101"),
        ("GOTRUE_SECURITY_REFRESH_TOKEN_UPGRADE_PERCENTAGE", "-1"),
        ("GOTRUE_SECURITY_REFRESH_TOKEN_UPGRADE_PERCENTAGE", "50%"),
        ("GOTRUE_SECURITY_REFRESH_TOKEN_ALLOW_REUSE", "sometimes"),
        ("PYTRUE_VERIFY_CONFIRMATION_PAGE", "yes"),
        ("GOTRUE_SESSIONS_TIMEBOX", "3600"),
        ("GOTRUE_SESSIONS_TIMEBOX", ""),
        ("GOTRUE_SESSIONS_INACTIVITY_TIMEOUT", "1d"),
        ("GOTRUE_SMTP_MAX_FREQUENCY", "60"),
        ("GOTRUE_SMTP_PORT", "smtp"),
        ("GOTRUE_DB_MAX_POOL_SIZE", "many"),
        ("GOTRUE_API_PORT", "http"),
        ("GOTRUE_API_PORT", ""),
        ("PORT", "70000"),
        ("PORT", "0"),
        ("GOTRUE_LOG_LEVEL", "verbose"),
        ("LOG_LEVEL", "loud"),
        ("GOTRUE_DB_DRIVER", "mysql"),
        ("GOTRUE_SITE_URL", "not a url"),
        ("GOTRUE_SITE_URL", "/relative/path"),
        ("API_EXTERNAL_URL", "abc.supabase.co"),
        ("GOTRUE_API_API_EXTERNAL_URL", "https://"),
        ("GOTRUE_PASSWORD_HASH_ARGON2_MEMORY", "lots"),
        ("GOTRUE_PASSWORD_HASH_ARGON2_ITERATIONS", "0"),
        ("GOTRUE_PASSWORD_HASH_ARGON2_PARALLELISM", "-1"),
        ("GOTRUE_JWT_VALID_METHODS", "HS256,none"),
        ("GOTRUE_JWT_KEYS", "{not json"),
        ("GOTRUE_JWT_KEYS", '{"kty": "oct"}'),
        ("GOTRUE_JWT_KEYS", "[1, 2]"),
        ("GOTRUE_RATE_LIMIT_EMAIL_SENT", "lots"),
        ("GOTRUE_RATE_LIMIT_EMAIL_SENT", "10/"),
        ("GOTRUE_RATE_LIMIT_EMAIL_SENT", "-1"),
        ("GOTRUE_RATE_LIMIT_SMS_SENT", "5/0s"),
        ("GOTRUE_RATE_LIMIT_SMS_SENT", ""),
        ("GOTRUE_URI_ALLOW_LIST", "https://{a.example.com/**"),
        ("GOTRUE_URI_ALLOW_LIST", "https://ok.example.com/**,https://[a-/**"),
    ],
)
def test_malformed_values_name_their_variable(variable: str, raw: str) -> None:
    error = load_error({**BASE, variable: raw})
    assert error.variable == variable
    assert str(error).startswith(f"{variable}: ")


def test_integer_error_message_shows_value() -> None:
    error = load_error({**BASE, "GOTRUE_JWT_EXP": "abc"})
    assert str(error) == "GOTRUE_JWT_EXP: expected an integer, got 'abc'"


@pytest.mark.parametrize("variable", ["GOTRUE_SITE_URL", "GOTRUE_JWT_SECRET", "API_EXTERNAL_URL", "DATABASE_URL"])
def test_missing_required_names_the_variable(variable: str) -> None:
    env = {k: v for k, v in BASE.items() if k != variable}
    error = load_error(env)
    assert error.variable == variable
    assert variable in str(error)


@pytest.mark.parametrize("variable", ["GOTRUE_SITE_URL", "GOTRUE_JWT_SECRET", "API_EXTERNAL_URL", "DATABASE_URL"])
def test_empty_required_names_the_variable(variable: str) -> None:
    error = load_error({**BASE, variable: ""})
    assert error.variable == variable


def test_database_url_needed_only_for_postgres() -> None:
    env = {k: v for k, v in BASE.items() if k != "DATABASE_URL"}
    assert load_settings({**env, "GOTRUE_DB_DRIVER": "memory"}, env_file=None).db.driver == "memory"
    assert load_settings(env, env_file=None, require_database=False).db.url == ""
    del env["GOTRUE_DB_DRIVER"]
    assert load_error(env).variable == "DATABASE_URL"


def test_require_false_allows_an_empty_environment() -> None:
    s = load_settings({}, env_file=None, require=False)
    assert s.site.site_url == ""
    assert s.jwt.secret == ""
    assert s.db.driver == "postgres"


def test_require_false_still_validates_given_values() -> None:
    error = load_error({"GOTRUE_SITE_URL": "nope"}, require=False)
    assert error.variable == "GOTRUE_SITE_URL"


def test_clamps() -> None:
    s = load(
        GOTRUE_JWT_EXP="0",
        GOTRUE_MAILER_OTP_EXP="0",
        GOTRUE_MAILER_OTP_LENGTH="11",
        GOTRUE_PASSWORD_MIN_LENGTH="3",
        GOTRUE_SMTP_MAX_FREQUENCY="0",
        GOTRUE_JWT_ADMIN_ROLES="",
        GOTRUE_JWT_ADMIN_GROUP_NAME="",
    )
    assert s.jwt.exp == 3600
    assert s.mailer.otp_exp == timedelta(seconds=86400)
    assert s.mailer.otp_length == 6
    assert s.password.min_length == 6
    assert s.smtp.max_frequency == timedelta(minutes=1)
    assert s.jwt.admin_roles == ("service_role", "supabase_admin")
    assert s.jwt.admin_group_name == "admin"
    assert load(GOTRUE_MAILER_OTP_LENGTH="5").mailer.otp_length == 6
    assert load(GOTRUE_MAILER_OTP_LENGTH="8").mailer.otp_length == 8
    assert load(GOTRUE_PASSWORD_MIN_LENGTH="12").password.min_length == 12


def test_lists_are_split_on_commas_without_trimming() -> None:
    s = load(
        GOTRUE_URI_ALLOW_LIST="https://a.example/**, http://localhost:3000/**",
        GOTRUE_JWT_ADMIN_ROLES="service_role,admin",
        GOTRUE_CORS_ALLOWED_HEADERS="X-One,X-Two",
    )
    assert s.site.uri_allow_list == ("https://a.example/**", " http://localhost:3000/**")
    assert s.jwt.admin_roles == ("service_role", "admin")
    assert s.cors.allowed_headers == ("X-One", "X-Two")
    assert load(GOTRUE_URI_ALLOW_LIST="").site.uri_allow_list == ()


def test_send_rates_are_parsed_into_the_rate_limit_section() -> None:
    s = load(GOTRUE_RATE_LIMIT_EMAIL_SENT="2.5", GOTRUE_RATE_LIMIT_SMS_SENT="10/1m")
    assert s.rate_limit.email_sent == Rate(2.5)
    assert s.rate_limit.sms_sent == Rate(10, timedelta(minutes=1), bucket=True)
    config = s
    assert (config.rate_limit.email_sent, config.rate_limit.sms_sent) == (Rate(2.5), Rate(10, timedelta(minutes=1), True))
    assert load(GOTRUE_RATE_LIMIT_EMAIL_SENT="0").rate_limit.email_sent.limit == 0
    assert RateLimit().email_sent == Rate(30)


def test_durations_and_intervals() -> None:
    s = load(
        GOTRUE_SESSIONS_TIMEBOX="24h",
        GOTRUE_SESSIONS_INACTIVITY_TIMEOUT="1h30m",
        GOTRUE_SMTP_MAX_FREQUENCY="900s",
        GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL="10",
    )
    assert s.sessions.timebox == timedelta(hours=24)
    assert s.sessions.inactivity_timeout == timedelta(hours=1, minutes=30)
    assert s.smtp.max_frequency == timedelta(seconds=900)
    assert s.security.refresh_token_reuse_interval == timedelta(seconds=10)
    assert load(GOTRUE_SESSIONS_TIMEBOX="0").sessions.timebox is None


def test_refresh_token_algorithm_settings() -> None:
    default = load()
    assert (default.security.refresh_token_algorithm_version, default.security.refresh_token_upgrade_percentage) == (0, 0)
    assert default.security.refresh_token_allow_reuse is False
    config = load(
        GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION="2",
        GOTRUE_SECURITY_REFRESH_TOKEN_UPGRADE_PERCENTAGE="25",
        GOTRUE_SECURITY_REFRESH_TOKEN_ALLOW_REUSE="true",
    )
    assert (config.security.refresh_token_algorithm_version, config.security.refresh_token_upgrade_percentage) == (2, 25)
    assert config.security.refresh_token_allow_reuse is True
    assert load(GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION="1").security.refresh_token_algorithm_version == 1


def test_verify_confirmation_page_setting() -> None:
    assert load().mailer.verify_confirmation_page is False
    assert load(PYTRUE_VERIFY_CONFIRMATION_PAGE="true").mailer.verify_confirmation_page is True


def test_valid_methods() -> None:
    assert load(GOTRUE_JWT_VALID_METHODS="HS256,RS256").jwt.valid_methods == ("HS256", "RS256")
    assert load(GOTRUE_JWT_VALID_METHODS="").jwt.valid_methods is None


def test_jwt_keys_are_parsed_and_validated() -> None:
    rsa = RSAKey.generate_key(2048)
    oct_key = OctKey.generate_key(256)
    keys = [jwk(rsa, "r1", "RS256", ["sign", "verify"]), jwk(oct_key, "o1", "HS256", ["verify"])]
    s = load(GOTRUE_JWT_KEYS=json.dumps(keys))
    assert [k["kid"] for k in s.jwt.keys] == ["r1", "o1"]
    assert key_set(s).accepted_algorithms == ("RS256", "HS256")


@pytest.mark.parametrize("ops", [[["verify"], ["verify"]], [["sign"], ["sign", "verify"]]])
def test_jwt_keys_need_exactly_one_signing_key(ops: list[list[str]]) -> None:
    keys = [jwk(OctKey.generate_key(256), f"k{i}", "HS256", op) for i, op in enumerate(ops)]
    raw = json.dumps(keys)
    error = load_error({**BASE, "GOTRUE_JWT_KEYS": raw})
    assert error.variable == "GOTRUE_JWT_KEYS"
    for key in keys:
        assert str(key["k"]) not in str(error)


def test_invalid_private_key_material_is_not_echoed() -> None:
    key = jwk(RSAKey.generate_key(2048), "r1", "RS256", ["sign"])
    key["d"] = "broken-private-part"
    error = load_error({**BASE, "GOTRUE_JWT_KEYS": json.dumps([key])})
    assert error.variable == "GOTRUE_JWT_KEYS"
    assert "broken-private-part" not in str(error)
    assert str(key["n"]) not in str(error)


def test_secrets_are_absent_from_repr() -> None:
    rsa = jwk(RSAKey.generate_key(2048), "r1", "RS256", ["sign"])
    s = load(GOTRUE_JWT_KEYS=json.dumps([rsa]))
    text = repr(s)
    for secret in (SECRET, DB_PASSWORD, SMTP_PASSWORD, str(rsa["d"]), str(rsa["p"])):
        assert secret not in text
    assert "secret='***'" in text
    assert "supabase_auth_admin:***@db:5432" in text
    assert SECRET not in str(s)


def test_secrets_are_absent_from_error_messages() -> None:
    error = load_error({**BASE, "GOTRUE_JWT_KEYS": f'[{{"kty": "oct", "k": "{SECRET}"}}]'})
    assert error.variable == "GOTRUE_JWT_KEYS"
    assert SECRET not in str(error)
    assert SECRET not in repr(error)
    error = load_error({**BASE, "GOTRUE_JWT_KEYS": SECRET})
    assert error.variable == "GOTRUE_JWT_KEYS"
    assert SECRET not in str(error)


def test_unusable_jwt_secret_is_reported_without_echo() -> None:
    pem = RSAKey.generate_key(2048).as_pem(private=False).decode()
    error = load_error({**BASE, "GOTRUE_JWT_SECRET": pem})
    assert error.variable == "GOTRUE_JWT_SECRET"
    assert "BEGIN" not in str(error)


def test_url_error_hides_embedded_password() -> None:
    error = load_error({**BASE, "API_EXTERNAL_URL": f"https://user:{SECRET}@/path"})
    assert error.variable == "API_EXTERNAL_URL"
    assert SECRET not in str(error)


def test_the_sections_the_use_cases_receive() -> None:
    s = load(
        GOTRUE_JWT_EXP="900",
        GOTRUE_JWT_AUD="authenticated",
        GOTRUE_JWT_ISSUER="https://abc.supabase.co/auth/v1",
        GOTRUE_JWT_DEFAULT_GROUP_NAME="authenticated",
        GOTRUE_PASSWORD_MIN_LENGTH="8",
        GOTRUE_PASSWORD_REQUIRED_CHARACTERS="abc:ABC:0123456789:\\:",
        GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL="10",
        GOTRUE_SESSIONS_TIMEBOX="8h",
        GOTRUE_MAILER_AUTOCONFIRM="true",
        GOTRUE_EXTERNAL_PHONE_ENABLED="1",
        GOTRUE_MAILER_OTP_LENGTH="8",
        GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED="true",
    )
    config = s
    assert config.external.anonymous_users.enabled is True
    assert isinstance(config, Settings)
    assert config.site.site_url == "https://app.example.com"
    assert config.jwt.exp == 900
    assert config.jwt.aud == "authenticated"
    assert config.jwt.issuer == "https://abc.supabase.co/auth/v1"
    assert config.jwt.default_group_name == "authenticated"
    assert config.password.policy.min_length == 8
    assert config.password.policy.required_characters == ("abc", "ABC", "0123456789", ":")
    assert config.security.refresh_token_reuse_interval == timedelta(seconds=10)
    assert config.sessions.timebox == timedelta(hours=8)
    assert config.sessions.inactivity_timeout is None
    assert config.mailer.autoconfirm is True
    assert config.external.phone.enabled is True
    assert config.mailer.otp_length == 8


def test_key_set_from_secret_only() -> None:
    keys = key_set(load())
    assert keys.accepted_algorithms == ("HS256",)
    assert keys.public_jwks() == {"keys": []}


# --- mailer (config.md §8) ---------------------------------------------------------------------


def test_mailer_defaults() -> None:
    s = load()
    assert s.mailer.subjects.given() == {} and s.mailer.templates.given() == {} and s.smtp.headers == {}
    assert asdict(s.mailer.url_paths) == {
        "invite": "/verify",
        "confirmation": "/verify",
        "recovery": "/verify",
        "email_change": "/verify",
    }
    assert s.mailer.template_max_size == 1_000_000
    assert s.mailer.template_max_age == timedelta(minutes=10)
    assert s.mailer.template_retry_interval == timedelta(seconds=10)
    assert s.mailer.dev_inbox_file == ""


def test_mailer_subjects_templates_and_url_paths() -> None:
    s = load(
        GOTRUE_MAILER_SUBJECTS_INVITE="Join {{ .SiteURL }}",
        GOTRUE_MAILER_SUBJECTS_MAGIC_LINK="Your link",
        GOTRUE_MAILER_SUBJECTS_REAUTHENTICATION="Code {{ .Token }}",
        GOTRUE_MAILER_SUBJECTS_CONFIRMATION="",
        GOTRUE_MAILER_TEMPLATES_RECOVERY="/templates/recovery.html",
        GOTRUE_MAILER_TEMPLATES_EMAIL_CHANGE="https://cdn.example.com/change.html",
        GOTRUE_MAILER_URLPATHS_CONFIRMATION="/auth/v1/verify",
        GOTRUE_MAILER_URLPATHS_RECOVERY="https://auth.example.com/verify",
        GOTRUE_MAILER_URLPATHS_INVITE="",
        GOTRUE_MAILER_TEMPLATE_MAX_SIZE="5000",
        GOTRUE_MAILER_TEMPLATE_MAX_AGE="1h",
        GOTRUE_MAILER_TEMPLATE_RETRY_INTERVAL="30s",
        PYTRUE_DEV_INBOX_FILE="/tmp/pytrue.mbox",
    )
    assert s.mailer.subjects.given() == {
        "invite": "Join {{ .SiteURL }}",
        "magic_link": "Your link",
        "reauthentication": "Code {{ .Token }}",
    }
    assert s.mailer.templates.given() == {
        "recovery": "/templates/recovery.html",
        "email_change": "https://cdn.example.com/change.html",
    }
    assert s.mailer.url_paths.confirmation == "/auth/v1/verify"
    assert s.mailer.url_paths.recovery == "https://auth.example.com/verify"
    assert s.mailer.url_paths.invite == "/verify"
    assert s.mailer.template_max_size == 5000
    assert s.mailer.template_max_age == timedelta(hours=1)
    assert s.mailer.template_retry_interval == timedelta(seconds=30)
    assert s.mailer.dev_inbox_file == "/tmp/pytrue.mbox"


def test_smtp_headers() -> None:
    s = load(GOTRUE_SMTP_HEADERS='{"X-Test": ["a", "$messageType"], "X-Other": []}')
    assert s.smtp.headers == {"X-Test": ("a", "$messageType"), "X-Other": ()}
    assert load(GOTRUE_SMTP_HEADERS="").smtp.headers == {}


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '["X-Test", "a"]',
        '{"X-Test": "a"}',
        '{"X-Test": [1]}',
        '{"Bad Name": ["a"]}',
        '{"X-Test": ["a\\r\\nBcc: victim@example.com"]}',
    ],
)
def test_bad_smtp_headers_name_the_variable(raw: str) -> None:
    error = load_error({**BASE, "GOTRUE_SMTP_HEADERS": raw})
    assert error.variable == "GOTRUE_SMTP_HEADERS"


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("GOTRUE_MAILER_TEMPLATE_MAX_SIZE", "big"),
        ("GOTRUE_MAILER_TEMPLATE_MAX_SIZE", "0"),
        ("GOTRUE_MAILER_TEMPLATE_MAX_AGE", "600"),
        ("GOTRUE_MAILER_TEMPLATE_RETRY_INTERVAL", "soon"),
    ],
)
def test_bad_template_limits_name_the_variable(variable: str, raw: str) -> None:
    assert load_error({**BASE, variable: raw}).variable == variable


def test_per_ip_request_limits() -> None:
    s = load()
    assert (s.rate_limit.header, s.security.sb_forwarded_for_enabled) == ("", False)
    assert (s.rate_limit.token_refresh, s.rate_limit.verify, s.rate_limit.otp, s.rate_limit.anonymous_users) == (
        150,
        30,
        30,
        30,
    )
    tuned = load(GOTRUE_RATE_LIMIT_HEADER="X-Forwarded-For", GOTRUE_RATE_LIMIT_OTP="2.5")
    assert tuned.rate_limit.header == "X-Forwarded-For" and tuned.rate_limit.otp == 2.5
    for bad in ("many", "-1", "nan", "inf"):
        error = load_error({**BASE, "GOTRUE_RATE_LIMIT_VERIFY": bad})
        assert error.variable == "GOTRUE_RATE_LIMIT_VERIFY"


def test_per_ip_rate_is_a_bucket_of_the_burst_refilled_over_the_window() -> None:
    rate = Rate.per_ip(150, timedelta(minutes=5), 30)
    assert rate == Rate(30, timedelta(seconds=2), bucket=True)
    assert Rate.per_ip(0, timedelta(minutes=5), 30).limit == 0
    assert Rate.per_ip(1e12, timedelta(minutes=5), 30).per == timedelta(microseconds=1)  # "unlimited" values


def test_otp_max_failed_attempts() -> None:
    assert load().security.otp_max_failed_attempts == 5
    assert load(PYTRUE_OTP_MAX_FAILED_ATTEMPTS="3").security.otp_max_failed_attempts == 3
    for bad in ("0", "x"):
        assert "PYTRUE_OTP_MAX_FAILED_ATTEMPTS" in str(load_error({**BASE, "PYTRUE_OTP_MAX_FAILED_ATTEMPTS": bad}))


# --- external providers: an enabled one is checked at start ------------------------------------
def _provider(name: str, **values: str) -> dict[str, str]:
    prefix = f"GOTRUE_EXTERNAL_{name.upper()}_"
    return {**BASE, prefix + "ENABLED": "true", **{prefix + key.upper(): value for key, value in values.items()}}


FULL = {"client_id": "client", "secret": "shh", "redirect_uri": "https://abc.supabase.co/auth/v1/callback"}


@pytest.mark.parametrize(
    ("name", "values", "variable"),
    [
        ("github", {k: v for k, v in FULL.items() if k != "client_id"}, "GOTRUE_EXTERNAL_GITHUB_CLIENT_ID"),
        ("github", {**FULL, "client_id": " "}, "GOTRUE_EXTERNAL_GITHUB_CLIENT_ID"),
        ("github", {k: v for k, v in FULL.items() if k != "secret"}, "GOTRUE_EXTERNAL_GITHUB_SECRET"),
        ("slack_oidc", {k: v for k, v in FULL.items() if k != "secret"}, "GOTRUE_EXTERNAL_SLACK_OIDC_SECRET"),
        ("discord", {k: v for k, v in FULL.items() if k != "redirect_uri"}, "GOTRUE_EXTERNAL_DISCORD_REDIRECT_URI"),
        ("twitter", {"client_id": "key", "redirect_uri": FULL["redirect_uri"]}, "GOTRUE_EXTERNAL_TWITTER_SECRET"),
        ("keycloak", FULL, "GOTRUE_EXTERNAL_KEYCLOAK_URL"),
        ("keycloak", {"url": "https://sso.example.com/realms/app"}, "GOTRUE_EXTERNAL_KEYCLOAK_CLIENT_ID"),
        ("google", {"secret": "shh"}, "GOTRUE_EXTERNAL_GOOGLE_CLIENT_ID"),
        ("apple", {}, "GOTRUE_EXTERNAL_APPLE_CLIENT_ID"),
        ("linkedin_oidc", {"secret": "shh"}, "GOTRUE_EXTERNAL_LINKEDIN_OIDC_CLIENT_ID"),
    ],
)
def test_an_enabled_provider_missing_a_setting_fails_at_start_naming_the_variable(
    name: str, values: dict[str, str], variable: str
) -> None:
    error = load_error(_provider(name, **values))
    assert error.variable == variable
    assert str(error).startswith(variable + ": required when GOTRUE_EXTERNAL_")
    assert "shh" not in str(error)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("google", {"client_id": "web.apps.googleusercontent.com,ios.apps.googleusercontent.com"}),  # native only
        ("apple", {"client_id": "com.example.app"}),  # native only: no client-secret JWT needed
        ("facebook", {"client_id": "123"}),  # Limited Login id_tokens
        ("keycloak", {"client_id": "app", "url": "https://sso.example.com/realms/app"}),
        ("azure", {"client_id": "app"}),  # the common tenant by default
        ("gitlab", FULL),  # gitlab.com by default
        ("workos", FULL),  # api.workos.com by default
        ("github", FULL),
    ],
)
def test_a_provider_configured_as_gotrue_accepts_it_starts(name: str, values: dict[str, str]) -> None:
    assert load_settings(_provider(name, **values), env_file=None).external.provider(name).enabled  # type: ignore[union-attr]


def test_a_disabled_provider_is_not_checked() -> None:
    env = {**BASE, "GOTRUE_EXTERNAL_KEYCLOAK_ENABLED": "false", "GOTRUE_EXTERNAL_KEYCLOAK_SECRET": "x"}
    assert load_settings(env, env_file=None).external.keycloak.enabled is False
