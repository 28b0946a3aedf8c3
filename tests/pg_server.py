"""A throwaway PostgreSQL + PostGIS server on loopback, for the store tests and benchmark.

Uses Debian's server binaries (``/usr/lib/postgresql/<major>/bin``, the newest major;
``.ci/install-postgis.sh`` installs them; ``CITYOPS_PG_BIN`` names another bin/ folder):
``initdb`` into a temporary directory, ``pg_ctl start`` on a free 127.0.0.1 port with the socket
in that directory, ``CREATE EXTENSION postgis``. PostgreSQL refuses to run as root, so as root
the server runs as the ``postgres`` system user (``runuser``).

In tests use :func:`require_server`: it starts one server per process (stopped at exit) and
skips the test with the reason when no server can be started, or fails it when the environment
variable ``CI`` is set (in CI the PostGIS tests must run).
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "cityops"
DATABASE = "cityops"
TEMPLATE = "cityops_template"


class PgServerError(RuntimeError):
    """The server could not be started (the message says why)."""


def _bin_dir() -> Path:
    override = os.environ.get("CITYOPS_PG_BIN")  # another installation's bin/ folder
    if override:
        if not Path(override, "initdb").exists():
            raise PgServerError(f"CITYOPS_PG_BIN={override} has no initdb")
        return Path(override)
    found = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        major = Path(d).parent.name
        if Path(d, "initdb").exists() and major.isdigit():
            found.append((int(major), Path(d)))
    if not found:
        raise PgServerError(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin "
            "(run .ci/install-postgis.sh)"
        )
    major, path = max(found)
    if not Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists():
        raise PgServerError(
            f"PostGIS for PostgreSQL {major} is not installed (run .ci/install-postgis.sh)"
        )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One PostgreSQL server in a temp dir; ``url`` is a superuser URL to its main database.

    Parameters
    ----------
    fast : turn off fsync and synchronous commit (fine for tests, where a crash of the machine
        is not what is tested; the benchmark keeps the durable defaults).
    """

    def __init__(self, *, fast: bool = True) -> None:
        self.bin = _bin_dir()
        self.run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PgServerError("running as root and there is no 'postgres' user") from exc
            self.run_as = "postgres"
        self.dir = Path(tempfile.mkdtemp(prefix="cityops-pg-"))
        if self.run_as:
            shutil.chown(self.dir, self.run_as)
        self.data = self.dir / "data"
        self.port = 0
        self.fast = fast
        self._started = False
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def _run(self, *args: str, timeout: float = 120) -> str:
        proc = subprocess.run(
            self._cmd(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.dir,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )
        if proc.returncode != 0:
            raise PgServerError(f"{args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc.stdout

    def _start(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
            "--no-instructions", "--no-sync",
        )  # fmt: skip
        opts = [
            "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.dir}",
            "-c max_connections=50",
            "-c shared_buffers=256MB",
        ]
        if self.fast:
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        last = ""
        for _ in range(3):  # a free port can be taken between probing and binding
            self.port = _free_port()
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                    "-t", "60", "-o", " ".join([f"-p {self.port}", *opts]), "start",
                )  # fmt: skip
                self._started = True
                break
            except PgServerError as exc:
                last = str(exc)
        if not self._started:
            log = (self.dir / "server.log").read_text(errors="replace")[-2000:]
            raise PgServerError(f"pg_ctl start failed: {last}\n{log}")
        # A template with PostGIS makes each fresh database a file copy (~0.1 s, not ~0.5 s).
        self.psql("postgres", f"CREATE DATABASE {TEMPLATE}")
        self.psql(TEMPLATE, "CREATE EXTENSION postgis")
        self.psql("postgres", f"CREATE DATABASE {DATABASE} TEMPLATE {TEMPLATE}")

    def psql(self, db: str, sql: str) -> str:
        """Run SQL through psql as the superuser; returns its output."""
        return self._run(
            "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
            "-U", SUPERUSER, "-d", db, "-At", "-c", sql,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return self.url_for(DATABASE)

    def url_for(self, db: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{db}"

    def fresh_database(self) -> str:
        """A new empty database with PostGIS; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url_for("postgres"), autocommit=True) as conn:
            # FILE_COPY: with fsync off a plain copy beats WAL-logging the template (PG 15+)
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
        return self.url_for(name)

    def fresh_schema(self) -> str:
        """A URL whose tables go to a new, empty schema of the main database (milliseconds).

        PostGIS stays reachable through ``public`` on the search path.
        """
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.url}?options=-csearch_path%3D{name},public"

    def stop(self) -> None:
        """Stop the server (immediately) and delete its files."""
        if self._started:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (PgServerError, subprocess.TimeoutExpired):
                pass
            self._started = False
        shutil.rmtree(self.dir, ignore_errors=True)


_shared: PgServer | None = None
_failure: str | None = None


def shared_server() -> PgServer:
    """The process's one test server, started on first use and stopped at exit.

    Raises
    ------
    PgServerError : when it cannot be started (the same reason on every later call).
    """
    global _shared, _failure
    if _shared is not None:
        return _shared
    if _failure is not None:
        raise PgServerError(_failure)
    try:
        import psycopg  # noqa: F401 - the tests talk to it through the store
    except ImportError:
        _failure = "psycopg 3 is not installed (pip install 'psycopg[binary]')"
        raise PgServerError(_failure) from None
    try:
        _shared = PgServer(fast=True)
    except (PgServerError, OSError, subprocess.SubprocessError) as exc:
        _failure = str(exc)
        raise PgServerError(_failure) from exc
    atexit.register(_shared.stop)
    return _shared


def require_server() -> PgServer:
    """The shared server for a test; skip (fail under ``CI``) when it cannot be started."""
    import pytest

    try:
        return shared_server()
    except PgServerError as exc:
        reason = f"PostgreSQL+PostGIS test server not available: {exc}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so the PostGIS tests must run)")
        pytest.skip(reason)


#: pytest parameters for tests that run on both store backends (PostGIS ones share a worker).
def backends():  # noqa: ANN201 - pytest params
    import pytest

    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgis", id="postgis", marks=pytest.mark.xdist_group("postgis")),
    ]


def backend_url(kind: str, tmp_path: Path) -> str:
    """A fresh store URL: a SQLite file in ``tmp_path``, or a new schema on the test server."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.sqlite'}"
    return require_server().fresh_schema()
