"""Dependency-injector containers: core services, one adapter set per storage, use cases."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from dependency_injector import containers, providers

from pytrue.adapters.crypto.passwords import Argon2PasswordHasher
from pytrue.adapters.captcha import SiteverifyCaptcha
from pytrue.adapters.pwned import BloomFilter, PwnedPasswordsApi
from pytrue.adapters.crypto.qr import SegnoQrCodes
from pytrue.adapters.crypto.webauthn import PyWebAuthnCeremonies
from pytrue.adapters.jwt.tokens import JoserfcTokenSigner, JoserfcTokenVerifier
from pytrue.adapters.mail.dev import DevTransport
from pytrue.adapters.mail.inbox import DevInbox
from pytrue.adapters.oauth.directory import ProviderDirectory
from pytrue.adapters.oauth.oidc import OidcProviderCache
from pytrue.adapters.oauth.registry import ProviderDeps
from pytrue.adapters.outbound_http import OutboundHttp
from pytrue.adapters.sms.dev import DevSmsOutbox
from pytrue.adapters.memory.cleanup import InMemoryStaleRowCleaner
from pytrue.adapters.memory.outbox import InMemoryMailQueue
from pytrue.adapters.memory.rate_limiter import InMemoryRateLimiter
from pytrue.adapters.mail.outgoing import Transport
from pytrue.adapters.mail.smtp import SmtpTransport
from pytrue.adapters.mail.localized import LocalizedTemplates
from pytrue.adapters.mail.template_mailer import TemplateMailer
from pytrue.adapters.mail.templates import TemplateStore
from pytrue.adapters.memory.store import InMemoryStore
from pytrue.adapters.memory.uow import InMemoryUnitOfWorkFactory
from pytrue.adapters.system import SecretsTokenGenerator, SystemClock
from pytrue.application.code_attempts import CodeAttempts
from pytrue.application.config import Links
from pytrue.application.email_codes import EmailCodes
from pytrue.application.notifications import SecurityNotifications
from pytrue.application.mail_health import MailHealth
from pytrue.application.mail_sender import MailQueued, OutboxSender
from pytrue.application.metrics import CountedMailer, CountedSmsSender
from pytrue.application.hooks import UserCreationHooks
from pytrue.application.sessions import SessionIssuer
from pytrue.entrypoints.hook_wiring import auth_hook
from pytrue.application.sms_codes import SmsCodes
from pytrue.application.use_cases.admin import (
    AdminCreateUser,
    AdminDeleteUser,
    OpenSessionFor,
    AdminGetUser,
    AdminAuditLog,
    AdminListUsers,
    AdminUpdateUser,
    BanUser,
)
from pytrue.application.use_cases.cleanup import CleanStaleRows
from pytrue.application.use_cases.authenticate import AuthenticateUser, AuthorizeAdmin
from pytrue.application.use_cases.email_links import (
    EmailChangeSender,
    Reauthenticate,
    RecoverPassword,
    Resend,
    SendMagicLink,
)
from pytrue.application.captcha import CaptchaGate
from pytrue.application.passwords import LeakedPasswords
from pytrue.application.external_accounts import ExternalAccounts
from pytrue.application.use_cases.external import Authorize, ExternalCallback
from pytrue.application.use_cases.id_token import IdTokenGrant
from pytrue.application.use_cases.admin_factors import AdminDeleteFactor, AdminListFactors, AdminUpdateFactor
from pytrue.application.use_cases.mfa import ChallengeFactor, EnrollFactor, UnenrollFactor, VerifyFactor
from pytrue.application.use_cases.identities import UnlinkIdentity
from pytrue.application.use_cases.otp import SendOtp
from pytrue.application.use_cases.invite import GenerateLink, InviteUser
from pytrue.application.use_cases.refresh import RefreshTokenGrant
from pytrue.application.use_cases.session_management import (
    AdminListSessions,
    AdminRevokeSessions,
    ListSessions,
    RevokeSession,
)
from pytrue.application.use_cases.signin import SignInWithPassword
from pytrue.application.use_cases.signup import SignUp
from pytrue.application.use_cases.user import Logout, UpdateUser
from pytrue.application.use_cases.verify import PkceGrant, Verify
from pytrue.application.use_cases.user_import import ExportUsers, ImportUsers
from pytrue.domain.cleanup import cleanup_rules
from pytrue.entrypoints import observability, serving
from pytrue.entrypoints import sms_wiring
from pytrue.entrypoints.http.request_log import NotingVerifier
from pytrue.entrypoints.json_logs import log_audit_entries
from pytrue.entrypoints import webhook_wiring
from pytrue.entrypoints.settings import Settings
from pytrue.entrypoints.settings import key_set as build_key_set

log = logging.getLogger("pytrue")


def mail_transport(settings: Settings, inbox: DevInbox) -> Transport:
    """SMTP when `GOTRUE_SMTP_HOST` is set; otherwise the development inbox (log + memory + mbox file)."""
    smtp = settings.smtp
    if smtp.host:
        return SmtpTransport(
            host=smtp.host,
            port=smtp.port,
            user=smtp.user,
            password=smtp.password,
            sender=smtp.admin_email,
            sender_name=smtp.sender_name,
            logging_enabled=smtp.logging_enabled,
        )
    return DevTransport(
        inbox=inbox,
        mbox_path=settings.mailer.dev_inbox_file,
        sender=smtp.admin_email,
        sender_name=smtp.sender_name,
    )


def template_mailer(settings: Settings, inbox: DevInbox) -> TemplateMailer:
    mailer = settings.mailer
    return TemplateMailer(
        transport=mail_transport(settings, inbox),
        templates=TemplateStore(
            site_url=settings.site.site_url,
            subjects=mailer.subjects.given(),
            urls=mailer.templates.given(),
            max_size=mailer.template_max_size,
            max_age=mailer.template_max_age,
            retry_interval=mailer.template_retry_interval,
        ),
        api_external_url=settings.api.external_url,
        site_url=settings.site.site_url,
        url_paths=asdict(mailer.url_paths),
        headers=settings.smtp.headers,
        localized=LocalizedTemplates(
            source=mailer.localized_templates,
            max_size=mailer.template_max_size,
            max_age=mailer.template_max_age,
            retry_interval=mailer.template_retry_interval,
        ),
    )


def hook_user_json(user: Any) -> dict[str, Any]:
    """The `user` of a hook payload: the user as the API renders it (GoTrue sends `models.User`)."""
    from pytrue.entrypoints.http.serialize import user_json

    return user_json(user)


class NoLifecycle:
    """Adapters with nothing to open or close."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class Core(containers.DeclarativeContainer):
    """Settings-derived services every storage shares."""

    settings = providers.Dependency(instance_of=Settings)
    # The sections the use cases obey; each use case gets only the ones it reads.
    site = settings.provided.site
    jwt = settings.provided.jwt
    smtp = settings.provided.smtp
    mail = settings.provided.mailer
    sms = settings.provided.sms
    external = settings.provided.external
    security = settings.provided.security
    sessions = settings.provided.sessions
    rate_limit = settings.provided.rate_limit
    passwords = providers.Singleton(lambda s: s.password.policy, settings)
    links = providers.Singleton(Links.of, settings)
    clock = providers.Singleton(SystemClock)
    tokens = providers.Singleton(SecretsTokenGenerator)
    key_set = providers.Singleton(build_key_set, settings)
    signer = providers.Singleton(JoserfcTokenSigner, key_set)
    # each verified token's sub and session_id go on its request's log lines (http/request_log.py)
    verifier = providers.Singleton(lambda keys: NotingVerifier(JoserfcTokenVerifier(keys)), key_set)
    hasher = providers.Singleton(
        lambda s: Argon2PasswordHasher(
            time_cost=s.password.hash_argon2_iterations,
            memory_cost_kib=s.password.hash_argon2_memory,
            parallelism=s.password.hash_argon2_parallelism,
            max_threads=serving.hasher_threads(),
        ),
        settings,
    )
    dev_inbox = providers.Singleton(DevInbox)
    mailer = providers.Singleton(template_mailer, settings, dev_inbox)
    # GOTRUE_METRICS_ENABLED / GOTRUE_TRACING_ENABLED (docs/adr/0030); the no-op recorder when off
    observability = providers.Singleton(observability.build, settings)
    metrics = providers.Singleton(lambda o: o.metrics, observability)
    counted_mailer = providers.Singleton(lambda m, o: CountedMailer(m, o.instruments) if o.instruments else m, mailer, observability)
    mail_health = providers.Singleton(MailHealth)
    # outbound HTTP: one client for the SMS provider and the hooks, closed by `stop`
    outbound = providers.Singleton(lambda s: OutboundHttp(timeout=s.api.internal_http_timeout.total_seconds()), settings)
    dev_sms_outbox = providers.Singleton(DevSmsOutbox)
    sms_sender = providers.Singleton(sms_wiring.sms_sender, settings, outbound, dev_sms_outbox)
    counted_sms_sender = providers.Singleton(
        lambda s, o: CountedSmsSender(s, o.instruments) if o.instruments else s, sms_sender, observability
    )
    sms_verifier = providers.Singleton(sms_wiring.sms_verifier, settings, sms_sender)
    legacy_webhook = providers.Singleton(webhook_wiring.legacy_webhook, settings, outbound)  # GOTRUE_WEBHOOK_*
    sms_render = providers.Singleton(sms_wiring.sms_render, settings)
    mfa_sms_render = providers.Singleton(sms_wiring.mfa_sms_render, settings)
    qr_codes = providers.Singleton(SegnoQrCodes)
    webauthn = providers.Singleton(PyWebAuthnCeremonies, settings.provided.webauthn)
    # OAuth providers share the outbound client
    http_client = providers.Singleton(lambda outbound: outbound.client, outbound)
    leaked_passwords = providers.Singleton(
        lambda s, client: LeakedPasswords(
            source=PwnedPasswordsApi(
                client=client, user_agent=s.password.hibp.user_agent, timeout=s.api.internal_http_timeout.total_seconds(),
                url=s.password.hibp.api_url,
                bloom=BloomFilter(s.password.hibp.bloom.items, s.password.hibp.bloom.false_positives) if s.password.hibp.bloom.enabled else None,
            ),
            fail_closed=s.password.hibp.fail_closed,
        ) if s.password.hibp.enabled else None,
        settings,
        http_client,
    )
    oidc_cache = providers.Singleton(
        lambda s, client, clock: OidcProviderCache(
            client=client, clock=clock, ttl=s.external.oidc_provider_cache_ttl, timeout=s.api.internal_http_timeout.total_seconds()
        ),
        settings,
        http_client,
        clock,
    )
    # well-known provider addresses replaced per provider (tests point them at local stand-ins)
    oauth_overrides = providers.Singleton(dict)
    oauth_providers = providers.Singleton(
        lambda s, client, cache, overrides: ProviderDirectory(
            s.external,
            ProviderDeps(client=client, cache=cache, timeout=s.api.internal_http_timeout.total_seconds(), overrides=overrides),
        ),
        settings,
        http_client,
        oidc_cache,
        oauth_overrides,
    )


class InMemoryAdapters(containers.DeclarativeContainer):
    """Storage in process memory (`GOTRUE_DB_DRIVER=memory`)."""

    settings = providers.Dependency(instance_of=Settings)
    store = providers.Singleton(InMemoryStore)
    mail_queued = providers.Singleton(MailQueued)
    uow = providers.Singleton(InMemoryUnitOfWorkFactory, store, mail_queued)
    mail_queue = providers.Singleton(InMemoryMailQueue, store)
    rate_limiter = providers.Singleton(InMemoryRateLimiter)
    cleaner = providers.Singleton(InMemoryStaleRowCleaner, uow)
    lifecycle = providers.Singleton(NoLifecycle)


class UseCases(containers.DeclarativeContainer):
    """Every use case, built once over the chosen adapters."""

    core = providers.DependenciesContainer()
    adapters = providers.DependenciesContainer()

    # auth hooks (GOTRUE_HOOK_<NAME>_*): a PostgreSQL function hook runs over this storage
    send_sms_hook = providers.Singleton(auth_hook, core.settings, core.outbound, adapters.uow, "send_sms")
    send_email_hook = providers.Singleton(auth_hook, core.settings, core.outbound, adapters.uow, "send_email")
    custom_access_token_hook = providers.Singleton(auth_hook, core.settings, core.outbound, adapters.uow, "custom_access_token")
    mfa_verification_hook = providers.Singleton(auth_hook, core.settings, core.outbound, adapters.uow, "mfa_verification_attempt")
    password_verification_hook = providers.Singleton(
        auth_hook, core.settings, core.outbound, adapters.uow, "password_verification_attempt"
    )
    before_user_created_hook = providers.Singleton(auth_hook, core.settings, core.outbound, adapters.uow, "before_user_created")
    after_user_created_hook = providers.Singleton(auth_hook, core.settings, core.outbound, adapters.uow, "after_user_created")

    user_hooks = providers.Singleton(
        UserCreationHooks,
        before=before_user_created_hook,
        after=after_user_created_hook,
        user_json=providers.Object(hook_user_json),
        tokens=core.tokens,
        clock=core.clock,
    )

    issuer = providers.Singleton(
        SessionIssuer, jwt=core.jwt, security=core.security, signer=core.signer, tokens=core.tokens, clock=core.clock,
        allow_low_aal=core.settings.provided.sessions.allow_low_aal,
        access_token_hook=custom_access_token_hook,
    )
    codes = providers.Singleton(
        EmailCodes,
        mail=core.mail,
        smtp=core.smtp,
        rate_limit=core.rate_limit,
        links=core.links,
        clock=core.clock,
        tokens=core.tokens,
        mailer=core.counted_mailer,
        limiter=adapters.rate_limiter,
        health=core.mail_health,
        hook=send_email_hook,
        user_json=providers.Object(hook_user_json),
    )
    notifications = providers.Singleton(
        SecurityNotifications, mail=core.mail, rate_limit=core.rate_limit, limiter=adapters.rate_limiter, clock=core.clock,
        codes=codes,
    )
    sms_codes = providers.Singleton(
        SmsCodes,
        sms=core.sms,
        rate_limit=core.rate_limit,
        clock=core.clock,
        tokens=core.tokens,
        limiter=adapters.rate_limiter,
        sender=core.counted_sms_sender,
        render=core.sms_render,
        hook=send_sms_hook,
        user_json=providers.Object(hook_user_json),
        verifier=core.sms_verifier,
        mfa_render=core.mfa_sms_render,
        mfa_otp_length=core.settings.provided.mfa.phone.otp_length,
    )
    outbox_sender = providers.Singleton(
        lambda s, queue, mailer, clock, health: OutboxSender(
            queue=queue,
            mailer=mailer,
            clock=clock,
            health=health,
            retry_interval=s.mailer.outbox_retry_interval,
            give_up_after=s.mailer.otp_exp,
            poll_interval=s.mailer.outbox_poll_interval.total_seconds(),
        ),
        core.settings,
        adapters.mail_queue,
        core.counted_mailer,
        core.clock,
        core.mail_health,
    )
    email_change_sender = providers.Singleton(EmailChangeSender, mailer=core.mail, clock=core.clock, codes=codes)
    sign_up = providers.Singleton(
        SignUp,
        uow=adapters.uow,
        site=core.site,
        jwt=core.jwt,
        passwords=core.passwords,
        leaks=core.leaked_passwords,
        mailer=core.mail,
        sms=core.sms,
        external=core.external,
        links=core.links,
        clock=core.clock,
        tokens=core.tokens,
        hasher=core.hasher,
        issuer=issuer,
        codes=codes,
        sms_codes=sms_codes,
        user_hooks=user_hooks,
        metrics=core.metrics,
        webhook=core.legacy_webhook,
    )
    _mail = {"uow": adapters.uow, "clock": core.clock, "issuer": issuer, "codes": codes}
    send_magic_link = providers.Singleton(
        SendMagicLink,
        jwt=core.jwt,
        passwords=core.passwords,
        mailer=core.mail,
        external=core.external,
        tokens=core.tokens,
        sign_up=sign_up,
        **_mail,
    )
    send_otp = providers.Singleton(
        SendOtp,
        uow=adapters.uow,
        jwt=core.jwt,
        passwords=core.passwords,
        external=core.external,
        sms=core.sms,
        clock=core.clock,
        tokens=core.tokens,
        issuer=issuer,
        magic_link=send_magic_link,
        sign_up=sign_up,
        sms_codes=sms_codes,
    )
    recover_password = providers.Singleton(RecoverPassword, jwt=core.jwt, external=core.external, **_mail)
    resend = providers.Singleton(
        Resend,
        jwt=core.jwt,
        external=core.external,
        links=core.links,
        email_change=email_change_sender,
        sms_codes=sms_codes,
        **_mail,
    )
    reauthenticate = providers.Singleton(Reauthenticate, links=core.links, sms_codes=sms_codes, **_mail)
    invite_user = providers.Singleton(
        InviteUser, jwt=core.jwt, links=core.links, tokens=core.tokens, user_hooks=user_hooks, webhook=core.legacy_webhook,
        **_mail,
    )
    generate_link = providers.Singleton(
        GenerateLink,
        jwt=core.jwt,
        passwords=core.passwords,
        leaks=core.leaked_passwords,
        mailer=core.mail,
        links=core.links,
        tokens=core.tokens,
        hasher=core.hasher,
        user_hooks=user_hooks,
        webhook=core.legacy_webhook,
        **_mail,
    )
    code_attempts = providers.Singleton(
        CodeAttempts, limiter=adapters.rate_limiter, limit=core.security.provided.otp_max_failed_attempts
    )
    verify = providers.Singleton(
        Verify,
        uow=adapters.uow,
        jwt=core.jwt,
        mailer=core.mail,
        sms=core.sms,
        clock=core.clock,
        tokens=core.tokens,
        hasher=core.hasher,
        issuer=issuer,
        attempts=code_attempts,
        sms_codes=sms_codes,
        notifications=notifications,
        metrics=core.metrics,
        webhook=core.legacy_webhook,
    )
    pkce_grant = providers.Singleton(
        PkceGrant, uow=adapters.uow, external=core.external, clock=core.clock, issuer=issuer, metrics=core.metrics
    )
    external_accounts = providers.Singleton(
        ExternalAccounts,
        site=core.site,
        jwt=core.jwt,
        mailer=core.mail,
        linking_domains=core.settings.provided.experimental.linking_domains,
        tokens=core.tokens,
        issuer=issuer,
        codes=codes,
        user_hooks=user_hooks,
        notifications=notifications,
        webhook=core.legacy_webhook,
    )
    authorize_external = providers.Singleton(
        Authorize,
        uow=adapters.uow,
        external=core.external,
        links=core.links,
        clock=core.clock,
        tokens=core.tokens,
        providers=core.oauth_providers,
        accounts=external_accounts,
    )
    unlink_identity = providers.Singleton(
        UnlinkIdentity, uow=adapters.uow, clock=core.clock, issuer=issuer, accounts=external_accounts,
        notifications=notifications,
    )
    external_callback = providers.Singleton(
        ExternalCallback,
        uow=adapters.uow,
        site=core.site,
        jwt=core.jwt,
        mailer=core.mail,
        external=core.external,
        links=core.links,
        clock=core.clock,
        issuer=issuer,
        accounts=external_accounts,
        providers=core.oauth_providers,
        metrics=core.metrics,
    )
    enroll_factor = providers.Singleton(
        EnrollFactor,
        uow=adapters.uow,
        mfa=core.settings.provided.mfa,
        site_url=core.links.provided.site_url,
        clock=core.clock,
        tokens=core.tokens,
        issuer=issuer,
        qr=core.qr_codes,
    )
    challenge_factor = providers.Singleton(
        ChallengeFactor,
        uow=adapters.uow,
        mfa=core.settings.provided.mfa,
        clock=core.clock,
        tokens=core.tokens,
        issuer=issuer,
        sms_codes=sms_codes,
        webauthn=core.webauthn,
    )
    verify_factor = providers.Singleton(
        VerifyFactor, uow=adapters.uow, mfa=core.settings.provided.mfa, clock=core.clock, issuer=issuer, webauthn=core.webauthn,
        hook=mfa_verification_hook, notifications=notifications,
    )
    unenroll_factor = providers.Singleton(
        UnenrollFactor, uow=adapters.uow, clock=core.clock, issuer=issuer, notifications=notifications
    )
    admin_list_factors = providers.Singleton(AdminListFactors, uow=adapters.uow)
    admin_update_factor = providers.Singleton(AdminUpdateFactor, uow=adapters.uow, clock=core.clock, issuer=issuer)
    admin_delete_factor = providers.Singleton(AdminDeleteFactor, uow=adapters.uow, clock=core.clock, issuer=issuer)
    captcha_gate = providers.Singleton(
        lambda s, client: CaptchaGate(
            captcha=s.security.captcha,
            verifier=SiteverifyCaptcha(
                client=client, provider=s.security.captcha.provider, secret=s.security.captcha.secret,
                timeout=s.security.captcha.timeout.total_seconds(), url=s.security.captcha.verify_url,
            ) if s.security.captcha.enabled else None,
        ),
        core.settings,
        core.http_client,
    )
    id_token_grant = providers.Singleton(
        IdTokenGrant,
        uow=adapters.uow,
        jwt=core.jwt,
        external=core.external,
        links=core.links,
        clock=core.clock,
        issuer=issuer,
        accounts=external_accounts,
        providers=core.oauth_providers,
        metrics=core.metrics,
    )
    sign_in_with_password = providers.Singleton(
        SignInWithPassword,
        uow=adapters.uow,
        jwt=core.jwt,
        passwords=core.passwords,
        leaks=core.leaked_passwords,
        external=core.external,
        clock=core.clock,
        hasher=core.hasher,
        issuer=issuer,
        hook=password_verification_hook,
        metrics=core.metrics,
        webhook=core.legacy_webhook,
    )
    refresh_token_grant = providers.Singleton(
        RefreshTokenGrant,
        uow=adapters.uow,
        security=core.security,
        sessions=core.sessions,
        clock=core.clock,
        issuer=issuer,
        metrics=core.metrics,
    )
    authenticate_user = providers.Singleton(
        AuthenticateUser, uow=adapters.uow, clock=core.clock, verifier=core.verifier
    )
    authorize_admin = providers.Singleton(
        AuthorizeAdmin, uow=adapters.uow, jwt=core.jwt, sessions=core.sessions, clock=core.clock, verifier=core.verifier
    )
    update_user = providers.Singleton(
        UpdateUser,
        uow=adapters.uow,
        jwt=core.jwt,
        passwords=core.passwords,
        leaks=core.leaked_passwords,
        mailer=core.mail,
        sms=core.sms,
        security=core.security,
        links=core.links,
        clock=core.clock,
        hasher=core.hasher,
        issuer=issuer,
        email_change=email_change_sender,
        attempts=code_attempts,
        sms_codes=sms_codes,
        notifications=notifications,
    )
    logout = providers.Singleton(Logout, uow=adapters.uow, clock=core.clock, issuer=issuer)
    list_sessions = providers.Singleton(ListSessions, uow=adapters.uow)
    revoke_session = providers.Singleton(RevokeSession, uow=adapters.uow, clock=core.clock, issuer=issuer)
    admin_list_sessions = providers.Singleton(AdminListSessions, uow=adapters.uow)
    admin_revoke_sessions = providers.Singleton(AdminRevokeSessions, uow=adapters.uow, clock=core.clock, issuer=issuer)
    admin_list_users = providers.Singleton(AdminListUsers, uow=adapters.uow)
    admin_audit_log = providers.Singleton(AdminAuditLog, uow=adapters.uow)
    admin_get_user = providers.Singleton(AdminGetUser, uow=adapters.uow)
    _admin = {
        "uow": adapters.uow,
        "jwt": core.jwt,
        "passwords": core.passwords,
        "leaks": core.leaked_passwords,
        "clock": core.clock,
        "tokens": core.tokens,
        "issuer": issuer,
    }
    admin_create_user = providers.Singleton(AdminCreateUser, hasher=core.hasher, **_admin)
    admin_update_user = providers.Singleton(AdminUpdateUser, hasher=core.hasher, **_admin)
    admin_delete_user = providers.Singleton(AdminDeleteUser, **_admin)
    ban_user = providers.Singleton(BanUser, **_admin)
    open_session_for = providers.Singleton(OpenSessionFor, uow=adapters.uow, clock=core.clock, issuer=issuer)
    import_users = providers.Singleton(ImportUsers, uow=adapters.uow, hasher=core.hasher, clock=core.clock, jwt=core.jwt)
    export_users = providers.Singleton(ExportUsers, uow=adapters.uow)
    clean_stale_rows = providers.Singleton(
        CleanStaleRows,
        cleaner=adapters.cleaner,
        clock=core.clock,
        rules=providers.Callable(
            lambda s: cleanup_rules(
                anonymous_users_enabled=s.external.anonymous_users.enabled,
                sessions_timebox=s.sessions.timebox,
                sessions_inactivity_timeout=s.sessions.inactivity_timeout,
            ),
            core.settings,
        ),
    )


class Application(containers.DeclarativeContainer):
    """The whole graph for one process: swap `adapters` to change the storage."""

    settings = providers.Dependency(instance_of=Settings)
    core = providers.Container(Core, settings=settings)
    adapters = providers.DependenciesContainer()
    use_cases = providers.Container(UseCases, core=core, adapters=adapters)


def adapters_for(settings: Settings) -> type[containers.DeclarativeContainer]:
    if settings.db.driver == "memory":
        return InMemoryAdapters
    from pytrue.entrypoints.postgres_container import PostgresAdapters

    return PostgresAdapters


def build_container(settings: Settings, adapters: type[containers.DeclarativeContainer] | None = None) -> Application:
    """Wire the application for `settings`, with the adapter set it selects unless one is given."""
    chosen = adapters or adapters_for(settings)
    container = Application(settings=settings, adapters=chosen(settings=settings))
    observability.wire(container)
    return container


async def start(container: Application, *, deliver_mail: bool = True) -> None:
    """Open the adapters; with `deliver_mail`, run this process's outbox sender (docs/adr/0017).

    The SMS sender, hook and template are built first, so a wrong SMS setting stops the start."""
    container.use_cases.sms_codes()
    uow = container.adapters.uow()
    if hasattr(uow, "on_audit"):
        uow.on_audit = log_audit_entries  # each committed audit entry is logged too (docs/adr/0029)
    await container.adapters.lifecycle().start()
    if deliver_mail:
        sender = container.use_cases.outbox_sender()
        await sender.start()
        container.adapters.mail_queued().target = sender.wake


async def stop(container: Application) -> None:
    container.adapters.mail_queued().target = None
    await container.use_cases.outbox_sender().stop()
    await container.adapters.lifecycle().stop()
    await container.core.outbound().aclose()
    hasher = container.core.hasher()
    close = getattr(hasher, "close", None)
    if close is not None:
        close()
