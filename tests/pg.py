"""A real PostgreSQL server for tests: initdb into a temp dir, `postgres` on a free loopback port.

Any test module can use it: `from tests.pg import postgres_server  # noqa: F401` makes the session fixture
available, and `postgres_server.fresh_url()` gives a URL to an empty schema of its own (cheap isolation:
one server and one database, a schema per test).

The server binaries come from Debian's `postgresql` package (scripts/system-deps.sh installs it). PostgreSQL
refuses to run as root, so as root the server runs as the `postgres` user (or `nobody`). It runs with
fsync off: it is thrown away at the end of the session.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, postgres) not found: install them with "
    "`apt-get install -y postgresql` (or run scripts/system-deps.sh), "
    "or point HELMBOT_PG_BIN at their directory"
)
START_TIMEOUT = 30.0
SUPERUSER = "helmbot"


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    """The newest installed server's bin directory (Debian keeps them out of PATH)."""
    candidates: list[Path] = []
    if os.environ.get("HELMBOT_PG_BIN"):
        candidates.append(Path(os.environ["HELMBOT_PG_BIN"]))

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise PostgresUnavailable(INSTALL_HINT)


def _service_user() -> pwd.struct_passwd | None:
    """Who runs the server: None (ourselves) unless we are root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root, and no `postgres` or `nobody` user exists to run PostgreSQL")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _user: pwd.struct_passwd | None = field(default=None, repr=False)

    @classmethod
    def start_new(cls) -> PostgresServer:
        bindir = find_bindir()
        user = _service_user()
        # /tmp itself, not a per-user private temp dir: the service user must be able to reach it.
        root = Path(tempfile.mkdtemp(prefix="helmbot-pg-", dir="/tmp" if user else None))
        server = cls(bindir=bindir, root=root, _user=user)
        try:
            server._initdb()
            server._start()
        except BaseException:
            server.stop()
            raise
        atexit.register(server.stop)
        return server

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def _popen_user(self) -> dict[str, object]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _initdb(self) -> None:
        self.socket_dir.mkdir()
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._user is not None:
            for path in (self.root, self.socket_dir, pwfile):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        proc = subprocess.run(
            [
                str(self.bindir / "initdb"), "-D", str(self.root / "data"), "-U", SUPERUSER,
                f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
                "--no-sync", "--no-instructions", "-E", "UTF8", "--no-locale",
            ],
            capture_output=True, text=True, cwd=self.root, timeout=120, **self._popen_user(),  # type: ignore[call-overload]
        )
        pwfile.unlink()
        if proc.returncode != 0:
            raise PostgresUnavailable(f"initdb failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")

    def _start(self) -> None:
        for _ in range(3):  # the free port may be taken between choosing and binding it
            self.port = _free_port()
            with self.log_path.open("ab") as log:
                self._proc = subprocess.Popen(  # type: ignore[call-overload]
                    [str(self.bindir / "postgres"), "-D", str(self.root / "data"), "-p", str(self.port),
                     *self._settings()],
                    stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True,
                    **self._popen_user(),
                )
            if self._wait_ready():
                return
            if "could not bind" not in self.log_path.read_text(errors="replace"):
                break
        raise PostgresUnavailable(f"PostgreSQL did not start; its log:\n{self._log_tail()}")

    def _settings(self) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.socket_dir),
            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
            "max_connections": "100", "shared_buffers": "16MB", "log_min_messages": "warning",
        }
        return [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with self.admin():
                    return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        return False

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return "(no log)"

    def admin(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A superuser connection over the unix socket (trusted, no password)."""
        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname=dbname, autocommit=True,
            connect_timeout=5,
        )

    def url(self, *, dbname: str = "postgres", schema: str | None = None, password: bool = True) -> str:
        """A TCP URL (password authentication, like production); `schema` sets the search_path."""
        secret = f":{quote(self.password, safe='')}" if password else ""
        options = f"?options={quote(f'-csearch_path={schema}', safe='')}" if schema else ""
        return f"postgresql://{SUPERUSER}{secret}@127.0.0.1:{self.port}/{dbname}{options}"

    def fresh_schema(self, prefix: str = "t") -> str:
        name = f"{prefix}_{secrets.token_hex(6)}"
        with self.admin() as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return name

    def fresh_url(self, prefix: str = "t") -> str:
        """A URL to a new, empty schema: each test's own store."""
        return self.url(schema=self.fresh_schema(prefix))

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)   # immediate shutdown: the data is thrown away anyway
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the session. Missing binaries FAIL the tests (CI installs them), never skip."""
    try:
        server = PostgresServer.start_new()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
