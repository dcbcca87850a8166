"""A private PgBouncer in front of a LocalCluster, for the test suite and the benchmark."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from pytrue.adapters.postgres.cluster import ClusterError, _Account, _grant_access, conninfo_to_url, server_account

_START_TIMEOUT = 30.0


class PgBouncerError(RuntimeError):
    """PgBouncer is not installed, or would not start."""


def pgbouncer_binary() -> str | None:
    """The `pgbouncer` executable (Debian installs it in /usr/sbin, often not on PATH)."""
    found = shutil.which("pgbouncer")
    if found:
        return found
    for candidate in ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/local/bin/pgbouncer"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPgBouncer:
    """A PgBouncer process owned by this object, pooling every database of one PostgreSQL server.

    It listens on 127.0.0.1 on a free port (never the package's 6432), reads its own
    configuration file, authenticates clients with SCRAM against `users` (name -> password),
    and runs as the unprivileged account the server runs as when we are root (PgBouncer,
    like PostgreSQL, refuses to run as root). `restart()` keeps the port.
    """

    def __init__(
        self,
        server_dsn: str,
        users: Mapping[str, str],
        *,
        pool_mode: str = "transaction",
        pool_size: int = 20,
        max_client_conn: int = 500,
        settings: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.server = conninfo_to_dict(server_dsn)
        self.users = dict(users)
        self.pool_mode = pool_mode
        self.pool_size = pool_size
        self.max_client_conn = max_client_conn
        self.settings = dict(settings or {})
        self._own_dir = data_dir is None
        self.dir = Path(data_dir or tempfile.mkdtemp(prefix="pytrue-pgbouncer-")).absolute()
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._account: _Account | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def dsn(self, dsn: str) -> str:
        """`dsn` (a URL for one database of the server) rewritten to go through this PgBouncer."""
        params = conninfo_to_dict(dsn)
        params.update(host="127.0.0.1", port=str(self.port))
        return conninfo_to_url(params)

    def start(self) -> LocalPgBouncer:
        binary = pgbouncer_binary()
        if binary is None:
            raise PgBouncerError("pgbouncer is not installed (Debian/Ubuntu: apt-get install pgbouncer)")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._account = server_account(self.dir)
        if self._account is not None:
            os.chown(self.dir, self._account.uid, self._account.gid)
            _grant_access(self.dir)
        if not self.port:
            self.port = _free_port()
        self._write_config()
        self._launch(binary)
        atexit.register(self.close)  # an interrupted test run leaves no PgBouncer behind
        return self

    def _write_config(self) -> None:
        host = str(self.server.get("host") or "127.0.0.1")
        port = str(self.server.get("port") or 5432)
        auth = "".join(f'"{user}" "{password}"\n' for user, password in self.users.items())
        (self.dir / "userlist.txt").write_text(auth)
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_type": "scram-sha-256",
            "auth_file": str(self.dir / "userlist.txt"),
            "pool_mode": self.pool_mode,
            "default_pool_size": str(self.pool_size),
            "max_client_conn": str(self.max_client_conn),
            "logfile": str(self.dir / "pgbouncer.log"),
            "pidfile": "",
            "server_login_retry": "1",
            "ignore_startup_parameters": "extra_float_digits",
            **self.settings,
        }
        lines = ["[databases]", f"* = host={host} port={port}", "", "[pgbouncer]"]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        config = self.dir / "pgbouncer.ini"
        config.write_text("\n".join(lines) + "\n")
        for path in (config, self.dir / "userlist.txt"):
            path.chmod(0o600)
            if self._account is not None:
                os.chown(path, self._account.uid, self._account.gid)

    def _launch(self, binary: str) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        user, group = (self._account.uid, self._account.gid) if self._account is not None else (None, None)
        extra: list[int] | None = [] if self._account is not None else None
        log = self.dir / "stdout.log"
        with log.open("ab") as out:
            self._process = subprocess.Popen(
                [binary, str(self.dir / "pgbouncer.ini")],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd="/",
                user=user,
                group=group,
                extra_groups=extra,
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._accepting():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise PgBouncerError(f"pgbouncer did not start:\n{self.log_tail()}")
            time.sleep(0.05)

    def _accepting(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True
        return False

    def stop(self, *, immediate: bool = True) -> None:
        """SIGTERM (immediate shutdown: clients are disconnected) or SIGINT (waits for them)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM if immediate else signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def restart(self) -> None:
        binary = pgbouncer_binary()
        assert binary is not None
        self.stop()
        self._launch(binary)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for name in ("pgbouncer.log", "stdout.log"):
            with contextlib.suppress(OSError):
                text += (self.dir / name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> LocalPgBouncer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_until_accepting(dsn: str, timeout: float = _START_TIMEOUT) -> None:
    """Until a query through `dsn` succeeds (PgBouncer accepts before the server does)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=5, prepare_threshold=None) as conn:
                conn.execute("select 1")
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ClusterError(f"no answer through {dsn.split('@')[-1]}: {exc}") from exc
            time.sleep(0.1)
