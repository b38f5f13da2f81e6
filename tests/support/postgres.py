"""A throw-away PostgreSQL server for tests, built on Debian's own binaries.

Why not pytest-postgresql or Docker: CI has neither a Docker engine nor anything
beyond the package registries, and ``scripts/system-deps`` already installs the
``postgresql`` package, whose ``initdb``/``pg_ctl`` live in
``/usr/lib/postgresql/<version>/bin``. This module runs them on a temporary data
directory and a free port, tuned for speed (no fsync), and tears everything down
at exit, even when the test run crashes.

CI runs as root, and PostgreSQL refuses to run as root, so as root every server
command runs as the ``postgres`` OS user (created by the Debian package) through
``runuser`` (or ``setpriv``), on a temp dir chowned to that user.

Set ``TONGBAN_TEST_PG_URL`` (e.g. ``postgresql://me:pw@db.local:5432/postgres``)
to use an existing server instead: databases are then created and dropped there.

Typical use in a conftest::

    from tests.support import postgres

    @pytest.fixture(scope="session")
    def pg():
        if not postgres.available():
            pytest.skip("PostgreSQL not installed: run scripts/system-deps")
        with postgres.PostgresServer() as server:
            yield server

    @pytest.fixture
    def pg_url(pg):
        name = pg.create_database()          # unique name, dropped with the server
        yield pg.url(name)                   # postgresql+asyncpg://postgres@127.0.0.1:PORT/name
        pg.drop_database(name)
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

__all__ = [
    "ENV_URL",
    "PostgresError",
    "PostgresServer",
    "available",
    "find_bindir",
    "shared_server",
]

ENV_URL = "TONGBAN_TEST_PG_URL"
ENV_BINDIR = "TONGBAN_PG_BINDIR"  # optional override of where initdb/pg_ctl live
OS_USER = "postgres"
DB_USER = "postgres"

# Durability off: a test cluster is thrown away, and fsync dominates the run time otherwise.
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "max_wal_size": "256MB",  # WAL in memory (see SHM): checkpoints (cheap here) recycle it sooner
}

# The cluster lives in memory (tmpfs) when there is room: every test copies a ~10 MB database
# (`CREATE DATABASE … TEMPLATE`) and drops it afterwards, and on a disk shared with other work
# those copies took 0.05 - 0.25 s each from run to run, most of a PostgreSQL test's set-up. A
# cluster needs ~0.2 GB plus its WAL (bounded by max_wal_size); Docker's default /dev/shm (64 MB)
# is too small, so the disk is used then.
SHM = "/dev/shm"
SHM_MIN_FREE = 4 * 1024**3


def _roomy_memory_folder(path: str) -> bool:
    try:
        return os.path.isdir(path) and shutil.disk_usage(path).free >= SHM_MIN_FREE
    except OSError:
        return False


_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_T = TypeVar("_T")


class PostgresError(RuntimeError):
    """Starting, stopping or talking to the test server failed (the message says how)."""


# --- locating binaries -------------------------------------------------------------------------


def _version_key(bindir: str) -> tuple[int, ...]:
    """Sort /usr/lib/postgresql/<ver>/bin numerically, so 15 beats 9.6."""
    ver = Path(bindir).parent.name
    return tuple(int(p) for p in re.findall(r"\d+", ver)) or (0,)


def find_bindir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``psql``, newest version first.

    Order: ``$TONGBAN_PG_BINDIR``; Debian's ``/usr/lib/postgresql/*/bin``; ``initdb`` on PATH.
    """
    override = os.environ.get(ENV_BINDIR)
    if override:
        return Path(override) if (Path(override) / "initdb").is_file() else None
    bins = [str(Path(p).parent) for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    if bins:
        return Path(max(bins, key=_version_key))
    on_path = shutil.which("initdb")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    return None


def _is_root() -> bool:
    return os.geteuid() == 0


def _drop_privileges_prefix() -> list[str]:
    """Command prefix that runs a program as the ``postgres`` OS user (root only)."""
    if not _is_root():
        return []
    try:
        pwd.getpwnam(OS_USER)
    except KeyError as exc:
        raise PostgresError(
            f"running as root, but there is no {OS_USER!r} OS user to run the server as "
            "(it comes with Debian's postgresql package: run scripts/system-deps)"
        ) from exc
    runuser = shutil.which("runuser") or (
        "/usr/sbin/runuser" if os.path.exists("/usr/sbin/runuser") else None
    )
    if runuser:
        return [runuser, "-u", OS_USER, "--"]
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, f"--reuid={OS_USER}", f"--regid={OS_USER}", "--init-groups", "--"]
    raise PostgresError("running as root, but neither runuser nor setpriv is available")


def available() -> bool:
    """True when a server can be had: ``$TONGBAN_TEST_PG_URL`` is set, or the binaries exist
    (and, as root, the ``postgres`` OS user to run them as)."""
    if os.environ.get(ENV_URL):
        return True
    bindir = find_bindir()
    if bindir is None or not (bindir / "pg_ctl").is_file():
        return False
    try:
        _drop_privileges_prefix()
    except PostgresError:
        return False
    return True


# --- small helpers -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from sync code, even inside a running event loop.

    Why a thread: helpers like ``create_database`` are called from sync fixtures *and*
    from async ones (pytest-asyncio), where ``asyncio.run`` would refuse to nest.
    """
    result: list[_T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="tongban-pg-admin", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(f"unsafe database name {name!r}: use letters, digits and underscores (max 63)")
    return name


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- the server --------------------------------------------------------------------------------


class PostgresServer:
    """A private PostgreSQL cluster (or a handle on ``$TONGBAN_TEST_PG_URL``).

    ``start()`` is called by ``__enter__`` and is idempotent; ``stop()`` is registered
    with ``atexit`` and is idempotent too, so a crashed run still cleans up.
    """

    def __init__(self, *, external_url: str | None = None, start_timeout: float = 60.0) -> None:
        env_url = os.environ.get(ENV_URL) or None
        self.external_url: str | None = external_url or env_url
        self.start_timeout = start_timeout
        self.bindir: Path | None = None
        self.basedir: Path | None = None
        self.port: int | None = None
        self.host = "127.0.0.1"
        self.startup_seconds: float | None = None
        self._created: set[str] = set()
        self._prefix: list[str] = []
        self._started = False
        self._lock = threading.Lock()
        if self.external_url:
            parts = urlsplit(self.external_url)
            if not parts.scheme.startswith("postgres"):
                raise ValueError(f"{ENV_URL} must be a postgresql:// URL, got {self.external_url!r}")
            self.host = parts.hostname or "127.0.0.1"
            self.port = parts.port or 5432

    # context manager ---------------------------------------------------------------------------

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # public API --------------------------------------------------------------------------------

    @property
    def is_external(self) -> bool:
        return self.external_url is not None

    @property
    def datadir(self) -> Path | None:
        return self.basedir / "data" if self.basedir else None

    @property
    def logfile(self) -> Path | None:
        return self.basedir / "server.log" if self.basedir else None

    def start(self) -> PostgresServer:
        """Start the private cluster (no-op for an external server or when already started)."""
        with self._lock:
            if self._started:
                return self
            atexit.register(self.stop)
            if self.is_external:
                self._started = True
                return self
            began = time.monotonic()
            self.bindir = find_bindir()
            if self.bindir is None:
                raise PostgresError(
                    "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH): "
                    f"run scripts/system-deps, or set {ENV_URL}"
                )
            self._prefix = _drop_privileges_prefix()
            self.basedir = self._make_basedir()
            try:
                self._initdb()
                self._start_server()
            except BaseException:
                self._cleanup_dir()
                raise
            self._started = True
            self.startup_seconds = time.monotonic() - began
            return self

    def stop(self) -> None:
        """Stop the server (``-m immediate``) and delete its files; drop our databases if external."""
        with self._lock:
            if not self._started and self.basedir is None:
                return
            with contextlib.suppress(Exception):
                atexit.unregister(self.stop)
            if self.is_external:
                for name in sorted(self._created):
                    with contextlib.suppress(Exception):
                        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            elif self.basedir is not None and self.datadir is not None and self.bindir is not None:
                if (self.datadir / "postmaster.pid").exists():
                    with contextlib.suppress(Exception):
                        self._pg(
                            [
                                str(self.bindir / "pg_ctl"),
                                "stop",
                                "-D",
                                str(self.datadir),
                                "-m",
                                "immediate",
                                "-w",
                            ],
                            timeout=60,
                        )
                self._cleanup_dir()
            self._created.clear()
            self._started = False

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy async URL for ``dbname`` (``postgresql+asyncpg://…``)."""
        return self._url(dbname, "postgresql+asyncpg")

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq/asyncpg DSN for ``dbname`` (``postgresql://…``), e.g. for ``asyncpg.connect``."""
        return self._url(dbname, "postgresql")

    def create_database(self, name: str | None = None) -> str:
        """Create a database (a unique ``test_…`` name when ``name`` is None) and return its name."""
        return _run_sync(self.acreate_database(name))

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting anyone still attached (``WITH (FORCE)``)."""
        _run_sync(self.adrop_database(name))

    async def acreate_database(self, name: str | None = None) -> str:
        """Async twin of :meth:`create_database`."""
        self._require_started()
        name = _check_name(name or f"test_{uuid.uuid4().hex[:16]}")
        await self._aadmin(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
        self._created.add(name)
        return name

    async def adrop_database(self, name: str) -> None:
        """Async twin of :meth:`drop_database`."""
        self._require_started()
        await self._aadmin(f'DROP DATABASE IF EXISTS "{_check_name(name)}" WITH (FORCE)')
        self._created.discard(name)

    def __repr__(self) -> str:
        where = "external" if self.is_external else str(self.basedir)
        return f"<PostgresServer {self.host}:{self.port} {where} started={self._started}>"

    # internals ---------------------------------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started:
            raise PostgresError("PostgresServer not started: use `with PostgresServer() as pg:` or .start()")

    def _url(self, dbname: str, scheme: str) -> str:
        if self.external_url:
            parts = urlsplit(self.external_url)
            return urlunsplit((scheme, parts.netloc, "/" + quote(dbname), parts.query, ""))
        return f"{scheme}://{DB_USER}@{self.host}:{self.port}/{quote(dbname)}"

    def _admin_db(self) -> str:
        if self.external_url:
            path = unquote(urlsplit(self.external_url).path.lstrip("/"))
            return path or "postgres"
        return "postgres"

    async def _aadmin(self, sql: str) -> None:
        import asyncpg  # a project dependency; imported late so available() works without it

        conn = await asyncpg.connect(self.dsn(self._admin_db()), timeout=30)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def _admin(self, sql: str) -> None:
        _run_sync(self._aadmin(sql))

    def _make_basedir(self) -> Path:
        """A temp dir the server user owns. Falls back to /tmp when $TMPDIR is not reachable
        by that user (e.g. under /root) or too long for a Unix socket path (~107 bytes)."""
        candidates = [tempfile.gettempdir(), "/tmp"]
        if _roomy_memory_folder(SHM):
            candidates.insert(0, SHM)
        last_error = ""
        for parent in dict.fromkeys(candidates):
            base = Path(tempfile.mkdtemp(prefix="tongban-pg-", dir=parent))
            if len(str(base / "sock" / ".s.PGSQL.65535")) > 100:
                shutil.rmtree(base, ignore_errors=True)
                last_error = f"{base} is too long for a socket path"
                continue
            (base / "sock").mkdir()
            if _is_root():
                uid, gid = pwd.getpwnam(OS_USER).pw_uid, pwd.getpwnam(OS_USER).pw_gid
                for p in (base, base / "sock"):
                    os.chown(p, uid, gid)
                probe = subprocess.run(
                    [*self._prefix, "test", "-w", str(base)], capture_output=True, timeout=30, check=False
                )
                if probe.returncode != 0:
                    shutil.rmtree(base, ignore_errors=True)
                    last_error = f"user {OS_USER!r} cannot reach {base}"
                    continue
            return base
        raise PostgresError(f"no usable temp dir for the test server: {last_error}")

    def _pg(self, argv: Sequence[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run a server binary (as the postgres user when root), from a dir it can read."""
        # PG* variables would redirect pg_ctl/initdb; a user's LANG may name a locale not generated here
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_", "LANG"))}
        env["LC_ALL"] = "C"
        return subprocess.run(
            [*self._prefix, *argv],
            cwd=self.basedir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    def _initdb(self) -> None:
        assert self.bindir is not None and self.datadir is not None
        base = [
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "--auth=trust",
            "-U",
            DB_USER,
            "--encoding=UTF8",
            "--no-sync",
        ]
        result = None
        for locale in ("C.UTF-8", "C"):
            result = self._pg([*base, f"--locale={locale}"], timeout=180)
            if result.returncode == 0:
                return
            # a half-made data dir would make the retry fail with "directory not empty"
            if self.datadir.exists():
                self._pg(["rm", "-rf", str(self.datadir)], timeout=60)
        assert result is not None
        raise PostgresError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def _start_server(self) -> None:
        assert self.bindir is not None and self.datadir is not None and self.basedir is not None
        last = ""
        for _attempt in range(3):  # the free port can be taken between probe and bind: retry
            port = _free_port()
            opts = f"-p {port} -k {self.basedir / 'sock'} " + " ".join(
                f"-c {k}={v}" for k, v in SERVER_SETTINGS.items()
            )
            result = self._pg(
                [
                    str(self.bindir / "pg_ctl"),
                    "start",
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-w",
                    "-t",
                    str(int(self.start_timeout)),
                    "-o",
                    opts,
                ],
                timeout=self.start_timeout + 30,
            )
            if result.returncode == 0:
                self.port = port
                return
            assert self.logfile is not None
            last = f"{result.stdout}\n{result.stderr}\n--- server log ---\n{_tail(self.logfile)}"
            if (self.datadir / "postmaster.pid").exists():
                self._pg(
                    [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.datadir), "-m", "immediate"],
                    timeout=60,
                )
        raise PostgresError(f"pg_ctl start failed 3 times:\n{last}")

    def _cleanup_dir(self) -> None:
        if self.basedir is not None:
            shutil.rmtree(self.basedir, ignore_errors=True)  # as root we may delete the postgres user's files
        self.basedir = None


# --- one server per test process ---------------------------------------------------------------

_shared: PostgresServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> PostgresServer:
    """A started server shared by the whole test process (stopped at exit).

    Starting a cluster costs about a second; tests should share one and take a
    fresh database each (``create_database``) rather than a server each.
    """
    global _shared
    with _shared_lock:
        if _shared is None or not _shared._started:
            _shared = PostgresServer().start()
        return _shared
