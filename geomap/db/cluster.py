"""The embedded PostgreSQL/PostGIS cluster that geomap owns when DATABASE_URL is unset.

Layout under GEOMAP_HOME:
    pgdata/          the cluster (owned by the server's user, mode 0700)
    log/server.log   the server log
    secret           the superuser password (mode 0600, owned by whoever runs geomap)
    port             the port last used, reused when still free (GEOMAP_DB_PORT fixes it)
    lock             serialises start/stop between geomap processes

As root the server runs as the `postgres` system user (PostgreSQL refuses to run as root).
Connections go over TCP on 127.0.0.1 with scram-sha-256; unix sockets are off so that long
GEOMAP_HOME paths cannot exceed the socket path limit.
"""
from __future__ import annotations

import fcntl
import logging
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from geomap.errors import DatabaseUnavailable, MissingDependency

log = logging.getLogger(__name__)

SUPERUSER = "geomap"
DATABASE = "geomap"
DEFAULT_PORT = 54329
INSTALL_HINT = (
    "Install them with: apt-get install postgresql postgresql-postgis "
    "(or run `scripts/install-system-deps.sh`), or set DATABASE_URL to an existing PostGIS server."
)
SERVER_SETTINGS = """
# written by geomap
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 100
# Short indexed queries: JIT compilation and parallel workers cost more than they save.
jit = off
max_parallel_workers_per_gather = 0
"""
MEMORY_LIMIT = Path("/sys/fs/cgroup/memory.max")  # a container's memory limit (cgroup v2), when it has one


def shared_buffers_mb(memory: int | None = None) -> int:
    """The server's buffer cache, in MB: an eighth of the memory (the machine's, or its container's
    limit when lower), between PostgreSQL's default of 128 MB and 1 GB, set at every start.

    PostgreSQL's default holds neither a 1,000,000-incident table (488 MB of heap) nor the pages
    one context report reads (about 10,000, scattered one row to a page), so each report read them
    from the OS's cache: at 1,000,000 incidents, alternating runs in one lock hold, the report's
    median took 80 and 89 ms with 1 GB against 107 ms with 128 MB (bench/README.md, issue 16).
    PostgreSQL's own advice for a dedicated server is a quarter of the memory; an eighth
    leaves room for the app, its render workers and a browser on the same machine.

    >>> shared_buffers_mb(2 * 2**30), shared_buffers_mb(4 * 2**30), shared_buffers_mb(64 * 2**30)
    (256, 512, 1024)
    """
    if memory is None:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        limit = MEMORY_LIMIT.read_text().strip() if MEMORY_LIMIT.exists() else "max"
        memory = min(memory, int(limit)) if limit.isdigit() else memory
    return int(min(1024, max(128, memory // 8 // 2**20)))


@dataclass(frozen=True)
class Status:
    """The embedded cluster as found: whether it runs, its postmaster's pid and port (None if not), its data folder."""

    running: bool
    pid: int | None
    port: int | None
    pgdata: Path


def find_bindir() -> Path:
    """The newest installed PostgreSQL's bin directory (GEOMAP_PG_BINDIR overrides)."""
    override = os.environ.get("GEOMAP_PG_BINDIR")
    candidates = [Path(override)] if override else _installed_bindirs()
    for bindir in candidates:
        if (bindir / "pg_ctl").exists() and (bindir / "initdb").exists():
            return bindir
    raise MissingDependency(f"PostgreSQL server programs (initdb, pg_ctl) were not found. {INSTALL_HINT}")


def _installed_bindirs() -> list[Path]:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major, reverse=True)
    on_path = shutil.which("pg_ctl")
    return versions + ([Path(on_path).resolve().parent] if on_path else [])


def _major(bindir: Path) -> float:
    try:
        return float(bindir.parent.name)
    except ValueError:
        return 0.0


def port_is_free(port: int) -> bool:
    """True when a server could listen on `port`, as PostgreSQL does (with SO_REUSEADDR).

    Without SO_REUSEADDR, the closed connections of a stopped server (TIME_WAIT, about 60 s)
    make its port look taken, and a restart would move the cluster to another port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that no one listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def may_search(st: os.stat_result, uid: int, gid: int) -> bool:
    """Whether a user of `uid` and primary group `gid` (the server runs with no other groups) may enter a directory."""
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def unreachable_parent(path: Path) -> Path | None:
    """The outermost existing parent of `path` that the server's user cannot enter (as root the
    server runs as the `postgres` system user; otherwise as this user, who can); None when none."""
    user = Cluster._server_user()
    if user is None:
        return None
    return next((parent for parent in reversed(path.parents)
                 if parent.exists() and not may_search(parent.stat(), user.pw_uid, user.pw_gid)), None)


class Cluster:
    """A private PostgreSQL cluster in `home`. Methods are safe to call from many processes."""

    def __init__(self, home: Path, bindir: Path | None = None, port: int | None = None):
        self.home = Path(home).absolute()  # compared with the server's own absolute -D path
        self.port = port  # fixed by GEOMAP_DB_PORT; None: chosen by _choose_port
        self.pgdata = self.home / "pgdata"
        self.logfile = self.home / "log" / "server.log"
        self._bindir = bindir

    # -- public -----------------------------------------------------------------------------

    def status(self) -> Status:
        pid, port = self._pidfile()
        running = pid is not None and self._is_our_postmaster(pid)
        return Status(running, pid if running else None, port if running else None, self.pgdata)

    def start(self) -> Status:
        """Start the server (initialising the cluster first if needed); reuse a running one."""
        with self._lock():
            status = self.status()
            if status.running:
                return status
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            self._remove_stale_pidfile()
            self._start_server(self._choose_port())
            status = self.status()
        self._ensure_database(status.port)
        return status

    def stop(self) -> bool:
        """Stop the server; returns False when it was not running."""
        with self._lock():
            if not self.status().running:
                self._remove_stale_pidfile()
                return False
            self._run_pg("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60")
            return True

    def url(self, database: str = DATABASE, driver: str = "postgresql+psycopg") -> str:
        status = self.status()
        if not status.running:
            raise DatabaseUnavailable(f"the embedded database in {self.home} is not running; run `geomap db start`")
        password = quote(self._secret(), safe="")
        return f"{driver}://{SUPERUSER}:{password}@127.0.0.1:{status.port}/{database}"

    # -- initialisation ---------------------------------------------------------------------

    def _initdb(self) -> None:
        log.info("initialising a PostgreSQL cluster in %s", self.pgdata)
        self._prepare_dirs()
        pwfile = self.home / "log" / ".initdb-pw"
        # Created 0600 before the secret is written: it is never readable by another user.
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._chown(pwfile)
        with os.fdopen(fd, "w") as handle:
            handle.write(self._secret())
        try:
            self._run_pg(
                "initdb", "-D", str(self.pgdata), "-U", SUPERUSER, f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-instructions",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(SERVER_SETTINGS)

    def _prepare_dirs(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)
        for path in (self.pgdata, self.logfile.parent):
            path.mkdir(mode=0o700, exist_ok=True)
            self._chown(path)
            path.chmod(0o700)  # the server log and initdb's password file are the server user's alone
        self._check_reachable()

    def _check_reachable(self) -> None:
        """As root, the postgres user must be able to enter every parent of GEOMAP_HOME.

        Read from the directories' modes, not by running a probe as that user: a probe found by
        PATH fails wherever PATH leads through a directory the postgres user cannot search.
        """
        parent = unreachable_parent(self.pgdata)
        if parent == Path("/"):
            raise DatabaseUnavailable(
                "the root directory / is private: the postgres system user cannot reach anything, "
                "PostgreSQL's own programs included; make it searchable with `chmod o+x /` "
                "(scripts/install-system-deps.sh does)")
        if parent is not None:
            raise DatabaseUnavailable(
                f"GEOMAP_HOME={self.home} is not reachable by the postgres system user ({parent} "
                f"is private); set GEOMAP_HOME to a directory such as /var/lib/geomap"
            )

    def _secret(self) -> str:
        path = self.home / "secret"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(24))
        return path.read_text().strip()

    # -- running ----------------------------------------------------------------------------

    def _choose_port(self) -> int:
        """The configured port; else the last port used, else the default, else any free port."""
        saved = self.home / "port"
        if self.port is not None:
            if not port_is_free(self.port):
                raise DatabaseUnavailable(f"GEOMAP_DB_PORT={self.port} is taken by another program; "
                                          f"choose a free port, or unset it to let geomap choose")
            saved.write_text(str(self.port))
            return self.port
        preferred = int(saved.read_text()) if saved.exists() else DEFAULT_PORT
        port = preferred if port_is_free(preferred) else free_port()
        if port != preferred:
            log.info("port %d is taken; using %d", preferred, port)
        saved.write_text(str(port))
        return port

    def _start_server(self, port: int, attempts: int = 5) -> None:
        """pg_ctl start; after a killed server, orphaned backends may hold shared memory a moment."""
        for attempt in range(1, attempts + 1):
            result = self._run_pg(
                "pg_ctl", "start", "-D", str(self.pgdata), "-l", str(self.logfile),
                "-o", f"-p {port} -c shared_buffers={shared_buffers_mb()}MB", "-w", "-t", "120", check=False,
            )
            if result.returncode == 0:
                return
            log.warning("server did not start (attempt %d of %d)", attempt, attempts)
            self._remove_stale_pidfile()
            time.sleep(attempt)
        raise DatabaseUnavailable(f"the embedded PostgreSQL server did not start; see {self.logfile}:\n"
                                  + self._log_tail())

    def _ensure_database(self, port: int | None) -> None:
        import psycopg

        params = dict(host="127.0.0.1", port=port, user=SUPERUSER, password=self._secret(), dbname="postgres")
        with psycopg.connect(**params, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone() is None:
                version = conn.execute("SHOW server_version").fetchone()[0]
                raise MissingDependency(
                    f"PostGIS is not installed for PostgreSQL {version}. "
                    f"Install it with: apt-get install postgresql-{version.split('.')[0]}-postgis-3"
                )
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    # -- pid file ---------------------------------------------------------------------------

    def _pidfile(self) -> tuple[int | None, int | None]:
        """(pid, port) from postmaster.pid, or (None, None)."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            return int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None, None

    def _is_our_postmaster(self, pid: int) -> bool:
        """True when `pid` is alive and is a postgres server for this data directory.

        A pid from a stale file may have been reused by an unrelated process.
        """
        try:
            argv = [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            return False
        if not argv or Path(argv[0]).name not in ("postgres", "postmaster"):
            return False
        # The same directory may be reached by another path (a symlink, a worktree): compare
        # resolved paths. The postmaster works in its data directory, so its cwd says it too.
        ours = self.pgdata.resolve()
        try:
            if Path(f"/proc/{pid}/cwd").resolve(strict=True) == ours:
                return True
        except OSError:
            pass  # another user's process: its cwd cannot be read; its arguments still can
        return any(Path(a).resolve() == ours for a in argv[1:] if "/" in a)

    def _remove_stale_pidfile(self) -> None:
        pidfile = self.pgdata / "postmaster.pid"
        pid, _ = self._pidfile()
        if pidfile.exists() and not (pid is not None and self._is_our_postmaster(pid)):
            log.warning("removing stale %s (pid %s is not running)", pidfile, pid)
            pidfile.unlink(missing_ok=True)

    # -- processes --------------------------------------------------------------------------

    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    def _run_pg(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        user = self._server_user()
        ids = dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[]) if user else {}
        result = subprocess.run([str(self.bindir() / program), *args], capture_output=True, text=True,
                                cwd=self.home, **ids)
        if check and result.returncode != 0:
            raise DatabaseUnavailable(f"{program} failed: {(result.stderr or result.stdout).strip()}")
        return result

    @staticmethod
    def _server_user() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise MissingDependency(
                "geomap is running as root, so the server must run as the `postgres` system user, "
                "which does not exist. " + INSTALL_HINT
            ) from None

    def _chown(self, path: Path) -> None:
        user = self._server_user()
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
