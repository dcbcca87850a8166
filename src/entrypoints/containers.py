"""Dependency-injector containers: core services, one adapter set per storage, use cases."""

from __future__ import annotations

import logging
from datetime import timedelta

from dependency_injector import containers, providers

from pytrue.adapters.crypto.passwords import Argon2PasswordHasher
from pytrue.adapters.jwt.keys import KeySet
from pytrue.adapters.jwt.tokens import JoserfcTokenSigner, JoserfcTokenVerifier
from pytrue.adapters.mail.dev import DevTransport
from pytrue.adapters.mail.inbox import DevInbox
from pytrue.adapters.memory.cleanup import InMemoryStaleRowCleaner
from pytrue.adapters.memory.outbox import InMemoryMailQueue
from pytrue.adapters.memory.rate_limiter import InMemoryRateLimiter
from pytrue.adapters.mail.outgoing import Transport
from pytrue.adapters.mail.smtp import SmtpTransport
from pytrue.adapters.mail.template_mailer import TemplateMailer
from pytrue.adapters.mail.templates import TemplateStore
from pytrue.adapters.memory.store import InMemoryStore
from pytrue.adapters.memory.uow import InMemoryUnitOfWorkFactory
from pytrue.adapters.system import SecretsTokenGenerator, SystemClock
from pytrue.application.code_attempts import CodeAttempts
from pytrue.application.email_codes import EmailCodes
from pytrue.application.mail_health import MailHealth
from pytrue.application.mail_sender import MailQueued, OutboxSender
from pytrue.application.sessions import SessionIssuer
from pytrue.application.use_cases.admin import (
    AdminCreateUser,
    AdminDeleteUser,
    AdminGetUser,
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
    SendOtp,
)
from pytrue.application.use_cases.invite import GenerateLink, InviteUser
from pytrue.application.use_cases.refresh import RefreshTokenGrant
from pytrue.application.use_cases.signin import SignInWithPassword
from pytrue.application.use_cases.signup import SignUp
from pytrue.application.use_cases.user import Logout, UpdateUser
from pytrue.application.use_cases.verify import PkceGrant, Verify
from pytrue.domain.cleanup import cleanup_rules
from pytrue.entrypoints import serving
from pytrue.entrypoints.settings import Settings

log = logging.getLogger("pytrue")


def mail_transport(settings: Settings, inbox: DevInbox) -> Transport:
    """SMTP when `GOTRUE_SMTP_HOST` is set; otherwise the development inbox (log + memory + mbox file)."""
    if settings.smtp_host:
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            user=settings.smtp_user,
            password=settings.smtp_pass,
            sender=settings.smtp_admin_email,
            sender_name=settings.smtp_sender_name,
        )
    return DevTransport(
        inbox=inbox,
        mbox_path=settings.dev_inbox_file,
        sender=settings.smtp_admin_email,
        sender_name=settings.smtp_sender_name,
    )


def template_mailer(settings: Settings, inbox: DevInbox) -> TemplateMailer:
    return TemplateMailer(
        transport=mail_transport(settings, inbox),
        templates=TemplateStore(
            site_url=settings.site_url,
            subjects=settings.mailer_subjects,
            urls=settings.mailer_templates,
            max_size=settings.mailer_template_max_size,
            max_age=settings.mailer_template_max_age,
            retry_interval=settings.mailer_template_retry_interval,
        ),
        api_external_url=settings.api_external_url,
        site_url=settings.site_url,
        url_paths=settings.mailer_url_paths,
        headers=settings.smtp_headers,
    )


class NoLifecycle:
    """Adapters with nothing to open or close."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class Core(containers.DeclarativeContainer):
    """Settings-derived services every storage shares."""

    settings = providers.Dependency(instance_of=Settings)
    auth_config = providers.Singleton(lambda s: s.auth_config(), settings)
    clock = providers.Singleton(SystemClock)
    tokens = providers.Singleton(SecretsTokenGenerator)
    key_set = providers.Singleton(
        lambda s: KeySet(s.jwt_secret, list(s.jwt_keys) or None, s.jwt_key_id, s.jwt_valid_methods),
        settings,
    )
    signer = providers.Singleton(JoserfcTokenSigner, key_set)
    verifier = providers.Singleton(JoserfcTokenVerifier, key_set)
    hasher = providers.Singleton(
        lambda s: Argon2PasswordHasher(
            time_cost=s.password_hash_time_cost,
            memory_cost_kib=s.password_hash_memory_kib,
            parallelism=s.password_hash_parallelism,
            max_threads=serving.hasher_threads(),
        ),
        settings,
    )
    dev_inbox = providers.Singleton(DevInbox)
    mailer = providers.Singleton(template_mailer, settings, dev_inbox)
    mail_health = providers.Singleton(MailHealth)


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

    issuer = providers.Singleton(
        SessionIssuer, config=core.auth_config, signer=core.signer, tokens=core.tokens, clock=core.clock
    )
    codes = providers.Singleton(
        EmailCodes,
        config=core.auth_config,
        clock=core.clock,
        tokens=core.tokens,
        mailer=core.mailer,
        limiter=adapters.rate_limiter,
        health=core.mail_health,
    )
    outbox_sender = providers.Singleton(
        lambda s, queue, mailer, clock, health: OutboxSender(
            queue=queue,
            mailer=mailer,
            clock=clock,
            health=health,
            retry_interval=s.mailer_outbox_retry_interval,
            give_up_after=timedelta(seconds=s.mailer_otp_exp),
            poll_interval=s.mailer_outbox_poll_interval.total_seconds(),
        ),
        core.settings,
        adapters.mail_queue,
        core.mailer,
        core.clock,
        core.mail_health,
    )
    email_change_sender = providers.Singleton(EmailChangeSender, config=core.auth_config, clock=core.clock, codes=codes)
    sign_up = providers.Singleton(
        SignUp,
        uow=adapters.uow,
        config=core.auth_config,
        clock=core.clock,
        tokens=core.tokens,
        hasher=core.hasher,
        issuer=issuer,
        codes=codes,
    )
    _mail = {"uow": adapters.uow, "config": core.auth_config, "clock": core.clock, "issuer": issuer, "codes": codes}
    send_magic_link = providers.Singleton(SendMagicLink, tokens=core.tokens, sign_up=sign_up, **_mail)
    send_otp = providers.Singleton(SendOtp, uow=adapters.uow, config=core.auth_config, magic_link=send_magic_link)
    recover_password = providers.Singleton(RecoverPassword, **_mail)
    resend = providers.Singleton(Resend, email_change=email_change_sender, **_mail)
    reauthenticate = providers.Singleton(Reauthenticate, **_mail)
    invite_user = providers.Singleton(InviteUser, tokens=core.tokens, **_mail)
    generate_link = providers.Singleton(GenerateLink, tokens=core.tokens, hasher=core.hasher, **_mail)
    code_attempts = providers.Singleton(
        CodeAttempts, limiter=adapters.rate_limiter, limit=core.auth_config.provided.otp_max_failed_attempts
    )
    verify = providers.Singleton(
        Verify,
        uow=adapters.uow,
        config=core.auth_config,
        clock=core.clock,
        tokens=core.tokens,
        hasher=core.hasher,
        issuer=issuer,
        attempts=code_attempts,
    )
    pkce_grant = providers.Singleton(PkceGrant, uow=adapters.uow, config=core.auth_config, clock=core.clock, issuer=issuer)
    sign_in_with_password = providers.Singleton(
        SignInWithPassword, uow=adapters.uow, config=core.auth_config, clock=core.clock, hasher=core.hasher, issuer=issuer
    )
    refresh_token_grant = providers.Singleton(
        RefreshTokenGrant, uow=adapters.uow, config=core.auth_config, clock=core.clock, issuer=issuer
    )
    authenticate_user = providers.Singleton(
        AuthenticateUser, uow=adapters.uow, clock=core.clock, verifier=core.verifier
    )
    authorize_admin = providers.Singleton(
        AuthorizeAdmin, uow=adapters.uow, config=core.auth_config, clock=core.clock, verifier=core.verifier
    )
    update_user = providers.Singleton(
        UpdateUser,
        uow=adapters.uow,
        config=core.auth_config,
        clock=core.clock,
        hasher=core.hasher,
        issuer=issuer,
        email_change=email_change_sender,
        attempts=code_attempts,
    )
    logout = providers.Singleton(Logout, uow=adapters.uow, clock=core.clock, issuer=issuer)
    admin_list_users = providers.Singleton(AdminListUsers, uow=adapters.uow)
    admin_get_user = providers.Singleton(AdminGetUser, uow=adapters.uow)
    _admin = {"uow": adapters.uow, "config": core.auth_config, "clock": core.clock, "tokens": core.tokens, "issuer": issuer}
    admin_create_user = providers.Singleton(AdminCreateUser, hasher=core.hasher, **_admin)
    admin_update_user = providers.Singleton(AdminUpdateUser, hasher=core.hasher, **_admin)
    admin_delete_user = providers.Singleton(AdminDeleteUser, **_admin)
    ban_user = providers.Singleton(BanUser, **_admin)
    clean_stale_rows = providers.Singleton(
        CleanStaleRows,
        cleaner=adapters.cleaner,
        clock=core.clock,
        rules=providers.Callable(
            lambda c: cleanup_rules(
                anonymous_users_enabled=c.external_anonymous_users_enabled,
                sessions_timebox=c.sessions_timebox,
                sessions_inactivity_timeout=c.sessions_inactivity_timeout,
            ),
            core.auth_config,
        ),
    )


class Application(containers.DeclarativeContainer):
    """The whole graph for one process: swap `adapters` to change the storage."""

    settings = providers.Dependency(instance_of=Settings)
    core = providers.Container(Core, settings=settings)
    adapters = providers.DependenciesContainer()
    use_cases = providers.Container(UseCases, core=core, adapters=adapters)


def adapters_for(settings: Settings) -> type[containers.DeclarativeContainer]:
    if settings.db_driver == "memory":
        return InMemoryAdapters
    from pytrue.entrypoints.postgres_container import PostgresAdapters

    return PostgresAdapters


def build_container(settings: Settings, adapters: type[containers.DeclarativeContainer] | None = None) -> Application:
    """Wire the application for `settings`, with the adapter set it selects unless one is given."""
    chosen = adapters or adapters_for(settings)
    return Application(settings=settings, adapters=chosen(settings=settings))


async def start(container: Application, *, deliver_mail: bool = True) -> None:
    """Open the adapters; with `deliver_mail`, run this process's outbox sender (docs/adr/0017)."""
    await container.adapters.lifecycle().start()
    if deliver_mail:
        sender = container.use_cases.outbox_sender()
        await sender.start()
        container.adapters.mail_queued().target = sender.wake


async def stop(container: Application) -> None:
    container.adapters.mail_queued().target = None
    await container.use_cases.outbox_sender().stop()
    await container.adapters.lifecycle().stop()
    hasher = container.core.hasher()
    close = getattr(hasher, "close", None)
    if close is not None:
        close()
