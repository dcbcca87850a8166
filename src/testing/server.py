"""pytrue in the test process: the real HTTP API on a free port, over in-memory storage (or
PostgreSQL), with helpers that reach behind it — the inbox, the clock, a reset between tests.

`AsyncAuthServer` serves on the running event loop (`async with`); `AuthServer` serves on a
background thread with its own loop (`with`), for synchronous test suites and clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import socket
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar
from uuid import UUID

from pytrue.testing.config import environment
from pytrue.testing.mail import Email, Inbox, Outbox

__all__ = ["AsyncAuthServer", "AuthServer", "Storage"]

Storage = Literal["memory", "postgres"]
T = TypeVar("T")

_FAR_FUTURE = 4102444800  # 2100-01-01: the API keys never expire during a test run
_START_TIMEOUT = 30.0
_NULL_HANDLER = logging.NullHandler()


class _Uvicorn:
    """uvicorn's server without its signal handlers (they belong to the test runner)."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

            def install_signal_handlers(self) -> None:  # uvicorn < 0.29
                return None

        config = uvicorn.Config(
            app, lifespan="on", log_level="warning", access_log=False, loop="asyncio", http="h11",
            timeout_graceful_shutdown=5,
        )
        self.server = Server(config)
        self.sock = sock

    async def serve(self) -> None:
        await self.server.serve(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True

    @property
    def started(self) -> bool:
        return bool(self.server.started)


class AsyncAuthServer:
    """A pytrue server on this event loop. Keyword arguments are GoTrue settings
    (`mailer_autoconfirm=True`, `jwt_exp=60`, `GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED=True`).

    `storage="postgres"` keeps users in PostgreSQL: `dsn` names a database (pytrue migrates its
    `auth` schema), else an embedded throw-away cluster is started for this server. With
    `control`, the `/__pytrue/` routes of `pytrue.testing.control` are served too.
    """

    def __init__(
        self,
        *,
        storage: Storage = "memory",
        dsn: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        env: Mapping[str, str] | None = None,
        control: bool = False,
        **config: Any,
    ) -> None:
        if storage not in ("memory", "postgres"):
            raise ValueError(f"storage must be 'memory' or 'postgres', not {storage!r}")
        self.storage: Storage = storage
        self._dsn = dsn
        self._control = control
        self._host = host
        self._port = port
        self._env = environment(config, env=env)
        self._env.setdefault("GOTRUE_JWT_SECRET", secrets.token_urlsafe(32))
        self._container: Any = None
        self._server: _Uvicorn | None = None
        self._task: asyncio.Task[None] | None = None
        self._cluster: Any = None
        self._cluster_dir: str | None = None
        self._clock: Any = None
        self.url = ""
        self.anon_key = ""
        self.service_role_key = ""
        self.jwt_secret = self._env["GOTRUE_JWT_SECRET"]
        self.inbox: Inbox
        self.outbox: Outbox

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncAuthServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind a port, build pytrue over its storage and serve until `stop`."""
        if self._task is not None:
            raise RuntimeError("the server is already running")
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        # pytrue's log records go to the test runner's handlers, if any; never to stderr by default
        logging.getLogger("pytrue").addHandler(_NULL_HANDLER)
        from dependency_injector import providers

        from pytrue.adapters.system import OffsetClock
        from pytrue.entrypoints.containers import build_container
        from pytrue.entrypoints.http.app import create_app
        from pytrue.entrypoints.settings import load_settings

        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        port = sock.getsockname()[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self.url = f"http://{host}:{port}"
        env = dict(self._env)
        env.setdefault("API_EXTERNAL_URL", self.url)
        if self.storage == "postgres":
            env["GOTRUE_DB_DRIVER"] = "postgres"
            env["DATABASE_URL"] = self._dsn or await asyncio.to_thread(self._embedded_database)
            self._dsn = env["DATABASE_URL"]
        settings = load_settings(env, env_file=None)
        container = build_container(settings)
        self._clock = OffsetClock()
        container.core.clock.override(providers.Object(self._clock))
        self._container = container
        self.inbox = Inbox(container.core.dev_inbox())
        self.outbox = Outbox(container.core.dev_sms_outbox())
        self.anon_key, self.service_role_key = _api_keys(container.core.signer())
        app: Any = create_app(container)
        if self._control:
            from pytrue.testing.control import with_control_routes

            app = with_control_routes(app, self)
        server = _Uvicorn(app, sock)
        self._server = server
        self._task = asyncio.create_task(server.serve(), name="pytrue.testing")
        while not server.started:
            if self._task.done():
                self._task.result()  # the start's error
                raise RuntimeError("the pytrue test server stopped while starting")
            await asyncio.sleep(0.001)

    def _embedded_database(self) -> str:
        from pytrue.adapters.postgres.cluster import LocalCluster

        self._cluster_dir = tempfile.mkdtemp(prefix="pytrue-testing-")
        self._cluster = LocalCluster(Path(self._cluster_dir) / "postgres", persistent=False)
        self._cluster.start()
        return str(self._cluster.provision())

    async def stop(self) -> None:
        """Stop serving and close every resource (and the embedded cluster, if one was started)."""
        if self._server is not None:
            self._server.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        self._server = None
        if self._cluster is not None:
            cluster, self._cluster = self._cluster, None
            await asyncio.to_thread(cluster.stop)
        if self._cluster_dir is not None:
            shutil.rmtree(self._cluster_dir, ignore_errors=True)
            self._cluster_dir = None

    # -- what a test reads -----------------------------------------------------------------------

    @property
    def dsn(self) -> str:
        """The PostgreSQL DSN (as `supabase_auth_admin`) with `storage="postgres"`."""
        if self.storage != "postgres" or not self._dsn:
            raise RuntimeError("dsn exists only with storage='postgres' once the server has started")
        return self._dsn

    @property
    def superuser_dsn(self) -> str:
        """The embedded cluster's superuser DSN: for the application's own tables, grants and
        RLS policies. Only when pytrue started the cluster (no `dsn` was given)."""
        if self._cluster is None:
            raise RuntimeError("superuser_dsn exists only for the embedded cluster (storage='postgres' without dsn)")
        return str(self._cluster.dsn)

    @property
    def settings(self) -> Any:
        """The server's settings (`pytrue.application.config.Settings`)."""
        return self._running().settings()

    @property
    def container(self) -> Any:
        """The wired application: its use cases can be called from a test or a script."""
        return self._running()

    @property
    def headers(self) -> dict[str, str]:
        """The headers of an admin call: the service_role key as `apikey` and bearer token."""
        return {"apikey": self.service_role_key, "Authorization": f"Bearer {self.service_role_key}"}

    def otp_for(self, email_or_phone: str) -> str:
        """The code in the newest email or text sent to that address or number."""
        if "@" in email_or_phone:
            mail = self.inbox.latest(email_or_phone)
            if not mail.otp:
                raise LookupError(f"the newest email to {email_or_phone} ({mail.kind}) carries no code")
            return mail.otp
        return self.outbox.latest(email_or_phone).otp

    def link_for(self, email: str, kind: str | None = None) -> str:
        """The verification link in the newest email (of `kind`) sent to `email`."""
        return self.inbox.latest(email, kind).link

    def advance_clock(self, seconds: float) -> None:
        """Move the server's clock forward: codes, links, access tokens and sessions expire as
        they would after that long, without sleeping. `reset` puts the clock back."""
        self._running()
        self._clock.advance(seconds)

    # -- what a test does ------------------------------------------------------------------------

    async def create_user(
        self,
        email: str | None = None,
        password: str | None = None,
        *,
        phone: str | None = None,
        user_metadata: Mapping[str, Any] | None = None,
        app_metadata: Mapping[str, Any] | None = None,
        confirmed: bool = True,
        **attributes: Any,
    ) -> dict[str, Any]:
        """A user made through the admin API (`POST /admin/users`), confirmed unless told not;
        the answer is the user JSON GoTrue returns."""
        body: dict[str, Any] = {key: value for key, value in attributes.items() if value is not None}
        for key, value in (("email", email), ("password", password), ("phone", phone)):
            if value is not None:
                body[key] = value
        if user_metadata is not None:
            body["user_metadata"] = dict(user_metadata)
        if app_metadata is not None:
            body["app_metadata"] = dict(app_metadata)
        if confirmed:
            body.setdefault("email_confirm", email is not None)
            body.setdefault("phone_confirm", phone is not None)
        return await self._admin("POST", "/admin/users", body)

    async def confirm(self, email: str) -> dict[str, Any]:
        """Confirm the email address of the user who has it, as if they had followed the link."""
        user = await self._user_by_email(email)
        return await self._admin("PUT", f"/admin/users/{user.id}", {"email_confirm": True})

    async def session_for(self, user: Mapping[str, Any] | str | UUID) -> dict[str, Any]:
        """A real session for `user` (its JSON, id or email), as `POST /token` answers it: an
        access token, a refresh token that rotates, and the user. No password is needed."""
        from pytrue.application.context import RequestContext
        from pytrue.domain.errors import UserNotFound
        from pytrue.entrypoints.http.serialize import token_json

        container = self._running()
        if isinstance(user, str) and "@" in user:
            user_id = (await self._user_by_email(user)).id
        else:
            user_id = UUID(str(user["id"] if isinstance(user, Mapping) else user))
        ctx = RequestContext(ip="127.0.0.1", user_agent="pytrue.testing")
        try:
            result = await container.use_cases.open_session_for()(user_id, ctx)
        except UserNotFound:
            raise LookupError(f"no user {user_id}") from None
        return token_json(result)

    async def reset(self) -> None:
        """Forget everything: users, sessions, codes, the inbox and outbox, rate limits, the clock."""
        container = self._running()
        if self.storage == "memory":
            store = container.adapters.store()
            async with store.lock:
                store.clear()
            container.adapters.rate_limiter().clear()
        else:
            from pytrue.adapters.postgres.reset import truncate_auth_tables

            # as the cluster's superuser when pytrue started it, so the CASCADE reaches the app's tables
            dsn = self.superuser_dsn if self._cluster is not None else self.dsn
            await truncate_auth_tables(dsn, container.settings().db.namespace, database_dsn=self.dsn)
        self.inbox.clear()
        self.outbox.clear()
        self._clock.reset()

    async def user(self, email: str) -> dict[str, Any]:
        """The user JSON (as the admin API shows it) of the user with that email."""
        found = await self._user_by_email(email)
        return await self._admin("GET", f"/admin/users/{found.id}", None)

    # -- internals -------------------------------------------------------------------------------

    def _running(self) -> Any:
        if self._container is None or self._task is None:
            raise RuntimeError("the pytrue test server is not running")
        return self._container

    async def _user_by_email(self, email: str) -> Any:
        container = self._running()
        aud = container.settings().jwt.aud
        async with container.adapters.uow()() as uow:
            found = await uow.users.get_by_email(email.strip().lower(), aud)
        if found is None:
            raise LookupError(f"no user has the email {email}")
        return found

    async def _admin(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        import httpx

        async with httpx.AsyncClient(base_url=self.url, headers=self.headers, timeout=30) as client:
            response = await client.request(method, path, json=body)
        answer: dict[str, Any] = response.json()
        if response.status_code >= 400:
            raise AuthServerError(response.status_code, answer)
        return answer


class AuthServerError(Exception):
    """An admin call a helper made was refused; `status` and `body` are GoTrue's answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body.get('msg') or body}")
        self.status = status
        self.body = body
        self.code = body.get("error_code") or body.get("code")


class AuthServer:
    """`AsyncAuthServer` on a background thread: the same helpers, called synchronously.

    >>> with AuthServer(mailer_autoconfirm=False) as auth:
    ...     client = SyncGoTrueClient(url=auth.url, headers={"apikey": auth.anon_key})
    """

    def __init__(self, **options: Any) -> None:
        self._async = AsyncAuthServer(**options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> AuthServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="pytrue.testing", daemon=True)
        self._thread.start()
        ready.wait()
        try:
            self._call(self._async.start, timeout=_START_TIMEOUT + 120 if self._async.storage == "postgres" else _START_TIMEOUT)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        try:
            self._call(self._async.stop, timeout=60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop = None
            self._thread = None

    def _call(self, job: Callable[..., Awaitable[T]], *args: Any, timeout: float | None = 60, **kwargs: Any) -> T:
        if self._loop is None:
            raise RuntimeError("the pytrue test server is not running")
        future: Future[T] = asyncio.run_coroutine_threadsafe(job(*args, **kwargs), self._loop)  # type: ignore[arg-type]
        return future.result(timeout)

    # the same surface as AsyncAuthServer, synchronously
    @property
    def url(self) -> str:
        return self._async.url

    @property
    def anon_key(self) -> str:
        return self._async.anon_key

    @property
    def service_role_key(self) -> str:
        return self._async.service_role_key

    @property
    def jwt_secret(self) -> str:
        return self._async.jwt_secret

    @property
    def headers(self) -> dict[str, str]:
        return self._async.headers

    @property
    def storage(self) -> Storage:
        return self._async.storage

    @property
    def dsn(self) -> str:
        return self._async.dsn

    @property
    def superuser_dsn(self) -> str:
        return self._async.superuser_dsn

    @property
    def settings(self) -> Any:
        return self._async.settings

    @property
    def container(self) -> Any:
        return self._async.container

    @property
    def inbox(self) -> Inbox:
        return self._async.inbox

    @property
    def outbox(self) -> Outbox:
        return self._async.outbox

    def otp_for(self, email_or_phone: str) -> str:
        return self._async.otp_for(email_or_phone)

    def link_for(self, email: str, kind: str | None = None) -> str:
        return self._async.link_for(email, kind)

    def advance_clock(self, seconds: float) -> None:
        self._async.advance_clock(seconds)

    def create_user(self, email: str | None = None, password: str | None = None, **options: Any) -> dict[str, Any]:
        return self._call(self._async.create_user, email, password, **options)

    def confirm(self, email: str) -> dict[str, Any]:
        return self._call(self._async.confirm, email)

    def session_for(self, user: Mapping[str, Any] | str | UUID) -> dict[str, Any]:
        return self._call(self._async.session_for, user)

    def user(self, email: str) -> dict[str, Any]:
        return self._call(self._async.user, email)

    def reset(self) -> None:
        self._call(self._async.reset)

    def run(self, job: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run a coroutine function on the server's loop (e.g. a use case of `container`)."""
        return self._call(job, *args, **kwargs)


def _api_keys(signer: Any) -> tuple[str, str]:
    """The anon and service_role API keys as Supabase mints them, signed with the server's key
    (HS256 over the JWT secret unless GOTRUE_JWT_KEYS names a signing key)."""
    claims = {"iss": "supabase", "iat": 1700000000, "exp": _FAR_FUTURE}
    return signer.sign({**claims, "role": "anon"}), signer.sign({**claims, "role": "service_role"})


