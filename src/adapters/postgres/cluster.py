"""A private PostgreSQL server for tests and `pytrue dev`, plus provisioning of the auth role and schema."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

AUTH_ADMIN_ROLE = "supabase_auth_admin"
API_ROLES = ("anon", "authenticated", "service_role")
DEFAULT_PASSWORD = "postgres"
SUPERUSER = "postgres"
DEFAULT_PORT = 5432

_SERVER_ACCOUNT = "pytrue-pg"
_LOG_NAME = "server.log"
_START_TIMEOUT = 60
_SOCKET_PATH_MAX = 100
_THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class ClusterError(RuntimeError):
    """The local PostgreSQL server could not be initialised, started or stopped."""


@dataclass(frozen=True, slots=True)
class Binaries:
    """One PostgreSQL installation: a directory holding initdb, pg_ctl and postgres."""

    bindir: Path
    major: int

    def exe(self, name: str) -> str:
        return str(self.bindir / name)


@dataclass(frozen=True, slots=True)
class _Account:
    """The unprivileged OS account the server runs as when we are root."""

    uid: int
    gid: int


@dataclass(frozen=True, slots=True)
class _Postmaster:
    """What a live server's postmaster.pid says about where it listens."""

    pid: int
    port: int
    socket_dir: str | None
    listen: str | None


class LocalCluster:
    """A PostgreSQL server owned by this process: throw-away (wiped on stop) or persistent.

    Binaries come from the `pgserver` wheel first, then from the system; as root the server
    runs as an unprivileged account, because PostgreSQL refuses to run as root.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        persistent: bool,
        port: int | None = None,
        bindir: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.persistent = persistent
        self.port = port
        self._bindir = bindir
        self._binaries: Binaries | None = None
        self._account: _Account | None = None
        self._socket_dir: Path | None = None
        self._dsn: str | None = None
        self._started_here = False

    @property
    def dsn(self) -> str:
        if self._dsn is None:
            raise ClusterError("the cluster is not running; call start() first")
        return self._dsn

    @property
    def binaries(self) -> Binaries | None:
        return self._binaries

    def start(self) -> str:
        """Initialise the data directory if needed, start (or attach to) the server; return a superuser DSN."""
        with _exclusive(self.data_dir):
            return self._start()

    def _start(self) -> str:
        self._account = _server_account(self.data_dir)
        live = _live_postmaster(self.data_dir)
        if live is not None and not self.persistent:
            self._stop_pid(live.pid)
            live = None
        if not self.persistent:
            _wipe_cluster(self.data_dir)
        _check_data_dir(self.data_dir)
        if live is None:
            self._binaries = self._initialise()
            live = self._launch(self._binaries)
            self._started_here = True
        self._dsn = _superuser_dsn(live, self.data_dir)
        _wait_until_accepting(self._dsn, _START_TIMEOUT)
        if not self.persistent:
            atexit.register(self.stop)
        return self._dsn

    def stop(self, *, force: bool = False) -> None:
        """Stop the server if this object started it (or `force`); a throw-away cluster's data is deleted."""
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        with _exclusive(self.data_dir):
            self._stop(force=force)

    def _stop(self, *, force: bool) -> None:
        live = _live_postmaster(self.data_dir)
        if live is not None and (force or self._started_here or not self.persistent):
            self._stop_pid(live.pid)
        self._started_here = False
        self._dsn = None
        if not self.persistent:
            _wipe_cluster(self.data_dir)
            if self._socket_dir is not None and self._socket_dir != self.data_dir:
                shutil.rmtree(self._socket_dir, ignore_errors=True)

    def is_running(self) -> bool:
        return _live_postmaster(self.data_dir) is not None

    def provision(
        self,
        database: str = "postgres",
        *,
        namespace: str = "auth",
        password: str | None = None,
    ) -> str:
        """Create the auth admin role, API roles and auth schema in `database`; return the admin role's DSN."""
        return provision_database(self.dsn, database, namespace=namespace, password=password)

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _initialise(self) -> Binaries:
        existing = _data_dir_major(self.data_dir)
        candidates = self._candidates()
        if existing is not None:
            binaries = _matching(candidates, existing, self.data_dir)
            self._make_usable(binaries)
            return binaries
        errors: list[str] = []
        for binaries in candidates:
            try:
                self._make_usable(binaries)
                self._initdb(binaries)
                return binaries
            except (ClusterError, OSError, subprocess.SubprocessError) as exc:
                errors.append(f"{binaries.bindir}: {exc}")
        raise ClusterError("initdb failed with every PostgreSQL found:\n" + "\n".join(errors))

    def _candidates(self) -> list[Binaries]:
        dirs = [self._bindir] if self._bindir is not None else _candidate_bindirs()
        found = [b for b in (_probe(d) for d in dirs) if b is not None]
        if not found:
            raise ClusterError("no PostgreSQL binaries found (install the pgserver wheel or PostgreSQL)")
        return found

    def _make_usable(self, binaries: Binaries) -> None:
        """As root, let the server account reach and read the installation (as pgserver itself does)."""
        if self._account is None:
            return
        _grant_access(binaries.bindir.parent)
        if binaries.bindir == _bundled_bindir():
            _grant_read(binaries.bindir.parent)

    def _initdb(self, binaries: Binaries) -> None:
        staging = self.data_dir.with_name(f".{self.data_dir.name}.initdb-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True, mode=0o700)
        try:
            self._own(staging)
            self._run_initdb(binaries, staging)
            if self.data_dir.exists():
                self.data_dir.rmdir()
            staging.rename(self.data_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _run_initdb(self, binaries: Binaries, target: Path) -> None:
        base = [binaries.exe("initdb"), "-D", str(target), "-U", SUPERUSER, "--encoding=UTF8"]
        base += ["--auth-local=trust", "--auth-host=scram-sha-256"]
        if not self.persistent:
            base.append("--no-sync")
        try:
            self._run([*base, "--locale=C.UTF-8"])
        except ClusterError:
            for child in target.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            self._run([*base, "--no-locale"])

    def _launch(self, binaries: Binaries) -> _Postmaster:
        _clear_stale_locks(self.data_dir)
        self._socket_dir = self._prepare_socket_dir()
        log = self.data_dir / _LOG_NAME
        options = shlex.join(self._server_options(self._socket_dir))
        command = [binaries.exe("pg_ctl"), "start", "-D", str(self.data_dir), "-l", str(log)]
        command += ["-w", "-t", str(_START_TIMEOUT), "-o", options]
        try:
            self._run(command)
        except ClusterError as exc:
            raise ClusterError(f"{exc}\n--- {log} ---\n{_tail(log)}") from exc
        live = _live_postmaster(self.data_dir)
        if live is None:
            raise ClusterError(f"the server exited right after starting\n{_tail(log)}")
        return live

    def _server_options(self, socket_dir: Path) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1" if self.port is not None else "",
            "port": str(self.port or DEFAULT_PORT),
            "unix_socket_directories": str(socket_dir),
        }
        if not self.persistent:
            settings.update(_THROWAWAY_SETTINGS)
        return [part for key, value in settings.items() for part in ("-c", f"{key}={value}")]

    def _prepare_socket_dir(self) -> Path:
        socket = self.data_dir / f".s.PGSQL.{self.port or DEFAULT_PORT}"
        if len(str(socket)) <= _SOCKET_PATH_MAX:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"pytrue-pg-{digest}"
        short.mkdir(mode=0o700, exist_ok=True)
        self._own(short)
        return short

    def _stop_pid(self, pid: int) -> None:
        binaries = self._binaries or _binaries_for(self.data_dir)
        if binaries is not None:
            command = [binaries.exe("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30"]
            with contextlib.suppress(ClusterError):
                self._run(command)
        _kill(pid)

    def _own(self, path: Path) -> None:
        if self._account is not None:
            os.chown(path, self._account.uid, self._account.gid)
            _grant_access(path.parent)

    def _run(self, command: Sequence[str]) -> str:
        return _run_as(self._account, command)


def provision_database(
    admin_dsn: str,
    database: str = "postgres",
    *,
    namespace: str = "auth",
    password: str | None = None,
) -> str:
    """Idempotently create roles, `database` and the auth schema owned by supabase_auth_admin.

    An existing role keeps its password unless one is given; the returned DSN connects as
    supabase_auth_admin with the given password (or the default one).
    """
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtextextended('pytrue.provision', 0))")
        _ensure_roles(conn, password)
        _ensure_database(conn, database)
    params = conninfo_to_dict(admin_dsn)
    with psycopg.connect(make_conninfo(admin_dsn, dbname=database), autocommit=True) as conn:
        _ensure_schema(conn, namespace)
    params.update(user=AUTH_ADMIN_ROLE, password=password or DEFAULT_PASSWORD, dbname=database)
    return conninfo_to_url(params)


def _ensure_roles(conn: psycopg.Connection, password: str | None) -> None:
    created = _create_role(conn, AUTH_ADMIN_ROLE, "login noinherit noreplication")
    if created or password is not None:
        secret = sql.Literal(password or DEFAULT_PASSWORD)
        conn.execute(sql.SQL("alter role {} with login password {}").format(sql.Identifier(AUTH_ADMIN_ROLE), secret))
    for role in API_ROLES:
        _create_role(conn, role, "nologin noinherit bypassrls" if role == "service_role" else "nologin noinherit")


def _create_role(conn: psycopg.Connection, role: str, options: str) -> bool:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone()
    if exists:
        return False
    with contextlib.suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
        conn.execute(sql.SQL("create role {} " + options).format(sql.Identifier(role)))
    return True


def _ensure_database(conn: psycopg.Connection, database: str) -> None:
    if conn.execute("select 1 from pg_database where datname = %s", [database]).fetchone():
        return
    with contextlib.suppress(psycopg.errors.DuplicateDatabase):
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))


def _ensure_schema(conn: psycopg.Connection, namespace: str) -> None:
    schema, admin = sql.Identifier(namespace), sql.Identifier(AUTH_ADMIN_ROLE)
    conn.execute(sql.SQL("create schema if not exists {} authorization {}").format(schema, admin))
    conn.execute(sql.SQL("alter schema {} owner to {}").format(schema, admin))
    roles = sql.SQL(", ").join(sql.Identifier(role) for role in API_ROLES)
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(schema, roles))
    conn.execute(sql.SQL("alter role {} set search_path = {}").format(admin, schema))


def conninfo_to_url(params: Mapping[str, object]) -> str:
    """A postgresql:// URL for libpq connection parameters (a unix socket goes into the query)."""
    values = {key: str(value) for key, value in params.items() if value not in (None, "")}
    host, port = values.pop("host", ""), values.pop("port", "")
    user, password = values.pop("user", ""), values.pop("password", "")
    dbname = values.pop("dbname", "")
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    query = dict(values)
    if host.startswith("/") or "," in host:
        query = {"host": host, **({"port": port} if port else {}), **query}
        netloc = ""
    else:
        netloc = host + (f":{port}" if port else "")
    url = f"postgresql://{auth + '@' if auth else ''}{netloc}/{quote(dbname, safe='')}"
    return url + ("?" + urlencode(query, safe="/") if query else "")


def _superuser_dsn(live: _Postmaster, data_dir: Path) -> str:
    host = live.socket_dir or (live.listen if live.listen not in (None, "", "*") else "127.0.0.1")
    if host is None:
        raise ClusterError(f"cannot tell where the server for {data_dir} listens")
    return conninfo_to_url({"host": host, "port": live.port, "user": SUPERUSER, "dbname": "postgres"})


def _wait_until_accepting(dsn: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=5) as conn:
                conn.execute("select 1")
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ClusterError(f"the server does not accept connections: {exc}") from exc
            time.sleep(0.1)


def _bundled_bindir() -> Path | None:
    """The binaries inside the `pgserver` wheel, located without importing it."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _candidate_bindirs() -> list[Path]:
    bundled = _bundled_bindir()
    dirs: list[Path] = [bundled] if bundled is not None else []
    on_path = shutil.which("pg_ctl")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    unique: list[Path] = []
    for directory in dirs:
        if directory not in unique:
            unique.append(directory)
    return unique


def _version_key(path: Path) -> int:
    return int(path.parent.name) if path.parent.name.isdigit() else 0


def _probe(bindir: Path) -> Binaries | None:
    if not all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
        return None
    try:
        out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\) (\d+)", out.stdout)
    return Binaries(bindir=bindir, major=int(match.group(1))) if match else None


def _matching(candidates: list[Binaries], major: int, data_dir: Path) -> Binaries:
    for binaries in candidates:
        if binaries.major == major:
            return binaries
    found = ", ".join(f"{b.major} ({b.bindir})" for b in candidates)
    raise ClusterError(f"{data_dir} was created by PostgreSQL {major}; found only {found}")


def _binaries_for(data_dir: Path) -> Binaries | None:
    major = _data_dir_major(data_dir)
    found = [b for b in (_probe(d) for d in _candidate_bindirs()) if b is not None]
    return next((b for b in found if b.major == major), found[0] if found else None)


def _data_dir_major(data_dir: Path) -> int | None:
    version = data_dir / "PG_VERSION"
    if not version.is_file():
        return None
    return int(version.read_text().strip().split(".")[0])


def _wipe_cluster(data_dir: Path) -> None:
    if not data_dir.exists():
        return
    if any(data_dir.iterdir()) and not (data_dir / "PG_VERSION").exists():
        raise ClusterError(f"{data_dir} is not empty and is not a PostgreSQL data directory; refusing to wipe it")
    shutil.rmtree(data_dir)


def _check_data_dir(data_dir: Path) -> None:
    if data_dir.is_dir() and any(data_dir.iterdir()) and not (data_dir / "PG_VERSION").exists():
        raise ClusterError(f"{data_dir} is not empty and is not a PostgreSQL data directory")
    if data_dir.exists() and not data_dir.is_dir():
        raise ClusterError(f"{data_dir} is not a directory")


def _read_postmaster(data_dir: Path) -> _Postmaster | None:
    try:
        lines = [line.strip() for line in (data_dir / "postmaster.pid").read_text().splitlines()]
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    lines += [""] * 6
    port, socket_dir, listen = lines[3], lines[4], lines[5]
    return _Postmaster(
        pid=pid,
        port=int(port) if port.isdigit() else DEFAULT_PORT,
        socket_dir=socket_dir or None,
        listen=listen or None,
    )


def _live_postmaster(data_dir: Path) -> _Postmaster | None:
    """The postmaster really serving `data_dir`, or None when there is none (or only a stale pid file)."""
    info = _read_postmaster(data_dir)
    if info is None or not _is_postgres_process(info.pid):
        return None
    return info


def _is_postgres_process(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        argv0 = cmdline.read_bytes().split(b"\0")[0]
    except OSError:
        return True
    return os.path.basename(argv0).startswith((b"postgres", b"postmaster"))


def _clear_stale_locks(data_dir: Path) -> None:
    """Remove a postmaster.pid (and socket lock files) left behind by a crashed or killed server."""
    info = _read_postmaster(data_dir)
    pid_file = data_dir / "postmaster.pid"
    if info is None or not _is_postgres_process(info.pid):
        pid_file.unlink(missing_ok=True)
        if info is not None and info.socket_dir:
            for stale in Path(info.socket_dir).glob(f".s.PGSQL.{info.port}*"):
                stale.unlink(missing_ok=True)


def _kill(pid: int) -> None:
    """Fast shutdown, then immediate shutdown, then SIGKILL, for a postmaster pg_ctl could not stop."""
    for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        if not _is_postgres_process(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        _wait_gone(pid, wait)


def _wait_gone(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and _is_postgres_process(pid):
        time.sleep(0.05)


def server_account(data_dir: Path) -> _Account | None:
    """The OS account to run a server for `data_dir` as: None unless we are root."""
    return _server_account(data_dir)


def _server_account(data_dir: Path) -> _Account | None:
    if os.geteuid() != 0:
        return None
    version = data_dir / "PG_VERSION"
    if version.exists() and version.stat().st_uid != 0:
        stat = version.stat()
        return _Account(uid=stat.st_uid, gid=stat.st_gid)
    import pwd

    for name in ("postgres", _SERVER_ACCOUNT):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return _Account(uid=entry.pw_uid, gid=entry.pw_gid)
    _create_account(_SERVER_ACCOUNT)
    entry = pwd.getpwnam(_SERVER_ACCOUNT)
    return _Account(uid=entry.pw_uid, gid=entry.pw_gid)


def _create_account(name: str) -> None:
    commands = (
        ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        ["adduser", "-S", "-D", "-H", name],
    )
    for command in commands:
        if shutil.which(command[0]) is None:
            continue
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0 or "exists" in result.stderr:
            return
    raise ClusterError(f"cannot create the OS account {name!r} to run PostgreSQL as (we are root)")


def _grant_read(root: Path) -> None:
    """Make a bundled installation world-readable (files) and traversable (directories) where it is not."""
    for directory, _, files in os.walk(root):
        _add_mode(Path(directory), 0o005)
        for name in files:
            path = Path(directory, name)
            if not path.is_symlink():
                _add_mode(path, 0o005 if path.stat().st_mode & 0o100 else 0o004)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(mode | bits)


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """Serialise start/stop of one data directory across processes (a lock file next to it)."""
    import fcntl

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(data_dir.with_name(f".{data_dir.name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _grant_access(path: Path) -> None:
    """Let other users traverse to `path` (search permission only on each ancestor)."""
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & 0o001:
            directory.chmod(mode | 0o001)


def _run_as(account: _Account | None, command: Sequence[str]) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    user, group = (account.uid, account.gid) if account is not None else (None, None)
    extra_groups: list[int] | None = [] if account is not None else None
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            result = subprocess.run(
                list(command),
                stdout=out,
                stderr=err,
                env=env,
                cwd="/",
                text=True,
                user=user,
                group=group,
                extra_groups=extra_groups,
            )
        except OSError as exc:
            raise ClusterError(f"{command[0]}: {exc}") from exc
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if result.returncode != 0:
        name = Path(command[0]).name
        raise ClusterError(f"{name} exited with {result.returncode}: {stderr.strip() or stdout.strip()}")
    return stdout


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def iter_binaries() -> Iterator[Binaries]:
    """Every usable PostgreSQL installation, in the order LocalCluster tries them."""
    for directory in _candidate_bindirs():
        binaries = _probe(directory)
        if binaries is not None:
            yield binaries
