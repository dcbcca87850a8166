"""The `pytrue` command: serve, a zero-configuration dev server, user administration and database cleanup."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytrue.entrypoints.settings import Settings, SettingsError, load_settings

log = logging.getLogger("pytrue")

DEV_DIR = Path(".pytrue")
GRACEFUL_TIMEOUT_SECONDS = 30


def _configure_logging(settings: Settings) -> None:
    from pytrue.entrypoints.json_logs import configure_logging

    try:
        configure_logging(settings)
    except OSError as exc:
        print(f"pytrue: configuration error: GOTRUE_LOG_FILE: cannot open {settings.logging.file}: {exc.strerror}", file=sys.stderr)
        raise SystemExit(2) from None


def _load(**kwargs: Any) -> Settings:
    try:
        return load_settings(**kwargs)
    except SettingsError as exc:
        print(f"pytrue: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _serve(
    settings: Settings,
    host: str | None,
    port: int | None,
    workers: int | None = None,
    after_shutdown: Callable[[], None] | None = None,
) -> None:
    """Serve with granian: `workers` processes share the port (ADR 0009)."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    from pytrue.entrypoints import observability, serving

    _configure_logging(settings)
    count = workers or serving.default_workers(settings.db.driver)
    if count > 1 and settings.db.driver == "memory":
        log.warning("in-memory storage cannot be shared between processes: serving with 1 worker, not %d", count)
        count = 1
    os.environ[serving.WORKERS_ENV] = str(count)
    stop_metrics = observability.prepare_serving(settings)  # before the workers start (docs/adr/0030)
    bind_host = host or settings.api.host or "0.0.0.0"
    bind_port = port or settings.api.port
    server = Granian(
        "pytrue.entrypoints.http.asgi:create",
        factory=True,
        address=bind_host,
        port=bind_port,
        interface=Interfaces.ASGI,
        workers=count,
        log_level=LogLevels.warning,
        log_access=False,
        workers_kill_timeout=GRACEFUL_TIMEOUT_SECONDS,
    )
    if after_shutdown is not None:
        server.on_shutdown(after_shutdown)
    if stop_metrics is not None:
        server.on_shutdown(stop_metrics)
    log.info(
        "pytrue listening on http://%s:%s (storage: %s, %d worker%s)",
        bind_host,
        bind_port,
        settings.db.driver,
        count,
        "" if count == 1 else "s",
    )
    server.serve()


def cmd_serve(args: argparse.Namespace) -> None:
    _serve(_load(), args.host, args.port, args.workers)


def _dev_environment(data_dir: Path, port: int | None = None) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    secret_file = data_dir / "jwt_secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(48))
        secret_file.chmod(0o600)
    env = dict(os.environ)
    defaults = {
        "GOTRUE_SITE_URL": "http://localhost:3000",
        "GOTRUE_JWT_SECRET": secret_file.read_text().strip(),
        "GOTRUE_JWT_AUD": "authenticated",
        "GOTRUE_JWT_DEFAULT_GROUP_NAME": "authenticated",
        "GOTRUE_MAILER_AUTOCONFIRM": "true",
        "GOTRUE_EXTERNAL_PHONE_ENABLED": "true",  # texts go to the log (no GOTRUE_SMS_PROVIDER)
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    port = str(port) if port else env.get("GOTRUE_API_PORT") or env.get("PORT") or "9999"
    env.setdefault("GOTRUE_API_PORT", port)
    env.setdefault("API_EXTERNAL_URL", f"http://localhost:{port}")
    return env


def _embedded_database(data_dir: Path, env: dict[str, str]) -> Any:
    """Start (or reattach to) the private PostgreSQL kept in the data directory."""
    from pytrue.adapters.postgres.cluster import LocalCluster

    cluster = LocalCluster(data_dir / "postgres", persistent=True)
    cluster.start()
    env["DATABASE_URL"] = cluster.provision()
    env["GOTRUE_DB_DRIVER"] = "postgres"
    print(f"pytrue dev: embedded PostgreSQL with its data in {(data_dir / 'postgres').resolve()}", flush=True)
    return cluster


def cmd_dev(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir)
    env = _dev_environment(data_dir, args.port)
    cluster = None
    if env.get("GOTRUE_DB_DRIVER", "postgres") != "memory" and not (
        env.get("DATABASE_URL") or env.get("GOTRUE_DB_DATABASE_URL")
    ):
        cluster = _embedded_database(data_dir, env)
    try:
        _dev(args, env, cluster.stop if cluster is not None else None)
    finally:
        if cluster is not None and cluster.is_running():
            cluster.stop()


def _dev(args: argparse.Namespace, env: dict[str, str], after_shutdown: Callable[[], None] | None) -> None:
    settings = _load(environ=env)
    from pytrue.adapters.jwt.keys import KeySet
    from pytrue.adapters.jwt.tokens import JoserfcTokenSigner

    signer = JoserfcTokenSigner(KeySet(settings.jwt.secret))
    far = 4102444800
    anon = signer.sign({"role": "anon", "iss": "pytrue-dev", "iat": 1700000000, "exp": far})
    service = signer.sign({"role": "service_role", "iss": "pytrue-dev", "iat": 1700000000, "exp": far})
    print(
        "\npytrue development server — NOT a production setup\n"
        f"  URL:              {settings.api.external_url}\n"
        f"  storage:          {settings.db.driver}\n"
        f"  data directory:   {Path(args.data_dir).resolve()} (JWT secret kept here)\n"
        f"  anon key:         {anon}\n"
        f"  service_role key: {service}\n",
        flush=True,
    )
    os.environ.update(env)  # the worker process builds its settings from the environment
    _serve(settings, args.host, args.port, 1, after_shutdown)


def cmd_migrate(args: argparse.Namespace) -> None:
    from pytrue.adapters.postgres.migrate import migrate

    settings = _load()
    applied = asyncio.run(migrate(settings.db.url, namespace=settings.db.namespace))
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))


def _use_cases(settings: Settings) -> Any:
    from pytrue.entrypoints.containers import build_container

    return build_container(settings)


async def _users(args: argparse.Namespace, settings: Settings) -> Any:
    from uuid import UUID

    from pytrue.application.ports import UserListQuery
    from pytrue.application.use_cases.admin import AdminUserAttributes
    from pytrue.entrypoints import containers
    from pytrue.entrypoints.http.serialize import user_json

    container = _use_cases(settings)
    await containers.start(container, deliver_mail=False)
    try:
        use_cases = container.use_cases
        if args.action == "create":
            attrs = AdminUserAttributes(
                email=args.email, phone=args.phone, password=args.password, email_confirm=args.confirm
            )
            return user_json(await use_cases.admin_create_user()(attrs, admin_role="cli"))
        if args.action == "ban":
            return user_json(await use_cases.ban_user()(UUID(args.user_id), args.duration, admin_role="cli"))
        page = await use_cases.admin_list_users()(
            UserListQuery(aud=settings.jwt.aud, page=args.page, per_page=args.per_page)
        )
        return {"total": page.total, "users": [user_json(u) for u in page.users]}
    finally:
        await containers.stop(container)


def cmd_users(args: argparse.Namespace) -> None:
    settings = _load(require=False)
    from pytrue.domain.errors import DomainError

    try:
        result = asyncio.run(_users(args, settings))
    except DomainError as exc:
        print(f"pytrue: {exc.code}: {exc.message}", file=sys.stderr)
        raise SystemExit(1) from None
    print(json.dumps(result, indent=2))


async def _cleanup(settings: Settings, max_steps: int | None) -> dict[str, Any]:
    from pytrue.entrypoints import containers

    container = _use_cases(settings)
    await containers.start(container, deliver_mail=False)
    try:
        report = await container.use_cases.clean_stale_rows().until_clean(max_steps)
    finally:
        await containers.stop(container)
    return {"steps": report.steps, "rows": report.total, "by_kind": {k.value: n for k, n in report.rows.items()}}


def cmd_cleanup(args: argparse.Namespace) -> None:
    """Runs whether or not GOTRUE_DB_CLEANUP_ENABLED is set: an operator asked for it."""
    settings = _load(require=False)
    try:
        result = asyncio.run(_cleanup(settings, args.steps))
    except Exception as exc:  # noqa: BLE001 - reported by type only: a message could carry the DSN
        print(f"pytrue: cleanup failed: {type(exc).__name__}", file=sys.stderr)
        raise SystemExit(1) from None
    print(json.dumps(result, indent=2))
async def _outbox_status(settings: Settings) -> dict[str, Any]:
    from datetime import datetime, timezone

    from pytrue.entrypoints import containers

    container = _use_cases(settings)
    await containers.start(container, deliver_mail=False)
    try:
        stats = await container.adapters.mail_queue().stats()
    finally:
        await containers.stop(container)
    oldest = stats.oldest_created_at
    age = (datetime.now(timezone.utc) - oldest).total_seconds() if oldest is not None else 0.0
    return {
        "queued": stats.depth,
        "failing": stats.failing,
        "oldest_age_seconds": round(age, 1),
        "last_error": stats.last_error,
    }


def cmd_outbox(args: argparse.Namespace) -> None:
    """Print the mail outbox's depth, the age of its oldest message and the last delivery error.

    Exits 1 when messages have failed to go out, so a monitoring check can run it as is."""
    settings = _load(require=False)
    if settings.db.driver == "memory":
        print("pytrue: the in-memory outbox lives inside the server process; use PostgreSQL storage", file=sys.stderr)
        raise SystemExit(2)
    status = asyncio.run(_outbox_status(settings))
    print(json.dumps(status, indent=2))
    if status["failing"]:
        raise SystemExit(1)


def cmd_config(args: argparse.Namespace) -> None:
    """Print every variable pytrue reads (generated from the declaration, never from the environment)."""
    from pytrue.entrypoints.settings.reference import render_markdown, render_text

    sys.stdout.write(render_markdown() if args.markdown else render_text())


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pytrue", description="A GoTrue-compatible auth server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API with the configured storage")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=_positive,
        help="worker processes sharing the port (default: one per core; 1 with in-memory storage)",
    )
    serve.set_defaults(func=cmd_serve)
    dev = sub.add_parser("dev", help="zero-configuration development server")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int)
    dev.add_argument("--data-dir", default=str(DEV_DIR))
    dev.set_defaults(func=cmd_dev)
    migrate = sub.add_parser("migrate", help="apply the auth schema migrations to DATABASE_URL")
    migrate.set_defaults(func=cmd_migrate)
    users = sub.add_parser("users", help="administer users")
    actions = users.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create")
    create.add_argument("--email")
    create.add_argument("--phone")
    create.add_argument("--password")
    create.add_argument("--confirm", action="store_true")
    ban = actions.add_parser("ban")
    ban.add_argument("user_id")
    ban.add_argument("--duration", default="876000h", help="Go duration, or `none` to lift the ban")
    listing = actions.add_parser("list")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--per-page", type=int, default=50)
    users.set_defaults(func=cmd_users)
    from pytrue.entrypoints.user_transfer import add_commands as add_user_transfer

    add_user_transfer(actions, _positive)  # users import|export
    cleanup = sub.add_parser(
        "cleanup", help="remove stale rows (GOTRUE_DB_CLEANUP_ENABLED's steps) until none is left"
    )
    cleanup.add_argument("--steps", type=_positive, help="stop after this many steps (one batch each)")
    cleanup.set_defaults(func=cmd_cleanup)
    outbox = sub.add_parser("outbox", help="mail waiting for delivery: depth, oldest age, last error")
    outbox.set_defaults(func=cmd_outbox)
    config = sub.add_parser("config", help="the configuration reference: every variable, its type, default and meaning")
    config.add_argument("--list", action="store_true", help="list every variable (the default)")
    config.add_argument("--markdown", action="store_true", help="as the Markdown table of docs/configuration.md")
    config.set_defaults(func=cmd_config)
    from pytrue.testing.cli import add_parser as add_testserver

    add_testserver(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
