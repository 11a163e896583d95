"""The embedded cluster: start, reuse, port clashes, stale pid files, a killed server, and the
`geomap db` commands. Each test owns its own cluster in its own GEOMAP_HOME."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

import psycopg
import pytest
from conftest import make_home

from geomap.db.cluster import DEFAULT_PORT, Cluster, find_bindir, free_port, may_search, shared_buffers_mb
from geomap.errors import DatabaseUnavailable, MissingDependency


@pytest.fixture
def own_cluster():
    home = make_home("geomap-cluster-")
    cluster = Cluster(home)
    yield cluster
    cluster.stop()
    shutil.rmtree(home, ignore_errors=True)


def query(cluster: Cluster, sql: str):
    with psycopg.connect(cluster.url(driver="postgresql")) as conn:
        return conn.execute(sql).fetchone()[0]


def test_start_initialises_a_postgis_capable_cluster_and_reuses_it(own_cluster):
    first = own_cluster.start()
    assert first.running and first.port
    assert query(own_cluster, "SELECT current_database()") == "geomap"
    assert query(own_cluster, "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'") == 1
    again = own_cluster.start()
    assert (again.pid, again.port) == (first.pid, first.port)


def test_the_buffer_cache_is_an_eighth_of_the_memory_within_bounds_at_every_start(own_cluster):
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")  # no container limit on the test machines
    expected = min(1024, max(128, memory // 8 // 2**20))
    own_cluster.start()
    assert query(own_cluster, "SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'") \
        == expected == shared_buffers_mb()
    own_cluster.stop()
    own_cluster.start()  # an existing cluster gets it too: it is set at start, not written at initdb
    assert query(own_cluster, "SHOW shared_buffers") in (f"{expected}MB", f"{expected // 1024}GB")
    assert (shared_buffers_mb(512 * 2**20), shared_buffers_mb(3 * 2**30), shared_buffers_mb(32 * 2**30)) == (128, 384, 1024)


def test_server_runs_as_postgres_when_geomap_runs_as_root(own_cluster):
    status = own_cluster.start()
    owner = os.stat(f"/proc/{status.pid}").st_uid
    assert owner == (__import__("pwd").getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid())


def test_a_taken_port_is_avoided(own_cluster):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        (own_cluster.home / "port").write_text(str(taken))  # the port the cluster would reuse
        status = own_cluster.start()
    assert status.port != taken
    assert query(own_cluster, "SELECT 1") == 1


def test_the_configured_port_is_used(own_cluster):
    port = free_port()
    fixed = Cluster(own_cluster.home, port=port)
    assert fixed.start().port == port
    assert query(fixed, "SELECT inet_server_port()") == port


def test_a_taken_configured_port_is_an_error_naming_the_setting(own_cluster):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        with pytest.raises(DatabaseUnavailable, match=f"GEOMAP_DB_PORT={taken} is taken"):
            Cluster(own_cluster.home, port=taken).start()
    assert not own_cluster.status().running


def test_a_restart_keeps_the_port_its_closed_connections_linger_on(own_cluster):
    first = own_cluster.start()
    # Connections open while the server stops: the server closes them first, so their sockets
    # linger in TIME_WAIT on its port, as an app's pool does across `geomap db stop`.
    open_connections = [psycopg.connect(own_cluster.url(driver="postgresql")) for _ in range(3)]
    own_cluster.stop()
    assert own_cluster.start().port == first.port
    for conn in open_connections:
        conn.close()


def test_stale_pid_file_from_a_dead_process_is_recovered(own_cluster):
    own_cluster.start()
    own_cluster.stop()
    dead = subprocess.Popen(["true"])
    dead.wait()
    pidfile = own_cluster.pgdata / "postmaster.pid"
    pidfile.write_text(f"{dead.pid}\n{own_cluster.pgdata}\n0\n{DEFAULT_PORT}\n\n127.0.0.1\n0 0\nready\n")
    assert not own_cluster.status().running
    assert own_cluster.start().running
    assert query(own_cluster, "SELECT 1") == 1


def test_stale_pid_file_naming_an_unrelated_live_process_is_recovered(own_cluster):
    own_cluster.start()
    own_cluster.stop()
    (own_cluster.pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{own_cluster.pgdata}\n0\n1\n\n\n\nready\n")
    assert not own_cluster.status().running
    assert own_cluster.start().running


def test_a_running_server_reached_by_another_path_is_recognised(own_cluster, tmp_path):
    """The same home through a symlink (a worktree, a mount) sees the live server; it must not
    take its pid file for a stale one, nor start a second server."""
    first = own_cluster.start()
    link = tmp_path / "same-home"
    link.symlink_to(own_cluster.home)
    status = Cluster(link).status()
    assert status.running and status.pid == first.pid
    assert Cluster(link).start().pid == first.pid
    assert (own_cluster.pgdata / "postmaster.pid").exists() and query(own_cluster, "SELECT 1") == 1


def test_a_killed_server_is_restarted_with_its_data(own_cluster):
    own_cluster.start()
    with psycopg.connect(own_cluster.url(driver="postgresql"), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
    pid = own_cluster.status().pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while own_cluster.status().running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not own_cluster.status().running
    restarted = own_cluster.start()
    assert restarted.running and restarted.pid != pid
    assert query(own_cluster, "SELECT n FROM kept") == 42


def test_missing_postgresql_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("GEOMAP_PG_BINDIR", str(tmp_path))
    with pytest.raises(MissingDependency, match="apt-get install postgresql postgresql-postgis"):
        find_bindir()


def run_cli(home, *args):
    env = dict(os.environ, GEOMAP_HOME=str(home))
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "geomap", *args], env=env, capture_output=True, text=True,
                          timeout=180)


def test_db_commands_start_status_url_stop(own_cluster):
    home = own_cluster.home
    assert run_cli(home, "db", "status").returncode == 3
    started = run_cli(home, "db", "start")
    assert started.returncode == 0 and "running" in started.stdout
    status = run_cli(home, "db", "status")
    assert status.returncode == 0 and f"port {own_cluster.status().port}" in status.stdout
    url = run_cli(home, "db", "url").stdout.strip()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "geomap"
    assert run_cli(home, "db", "stop").stdout.strip() == "stopped"
    assert run_cli(home, "db", "status").returncode == 3


def test_db_commands_refuse_when_database_url_is_set(own_cluster):
    env = dict(os.environ, GEOMAP_HOME=str(own_cluster.home), DATABASE_URL="postgresql://x@127.0.0.1/y")
    result = subprocess.run([sys.executable, "-m", "geomap", "db", "start"], env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "DATABASE_URL is set" in result.stderr


def test_the_password_is_never_readable_by_other_users_during_initdb(own_cluster):
    import stat
    import threading

    pwfile = own_cluster.home / "log" / ".initdb-pw"
    seen: set[int] = set()
    done = threading.Event()

    def watch():
        while not done.is_set():
            try:
                seen.add(stat.S_IMODE(os.stat(pwfile).st_mode))
            except FileNotFoundError:
                pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        own_cluster.start()
    finally:
        done.set()
        watcher.join()
    assert seen, "initdb's password file was never seen (the watcher missed it)"
    assert all(mode & 0o077 == 0 for mode in seen), f"modes seen: {sorted(map(oct, seen))}"
    assert stat.S_IMODE(os.stat(pwfile.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(own_cluster.home / "secret").st_mode) == 0o600


def test_start_does_not_depend_on_a_path_the_postgres_user_cannot_search(own_cluster, monkeypatch, tmp_path):
    """CI once ran with a PATH whose entries the postgres user could not search, and every start failed."""
    private = tmp_path / "private-bin"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("PATH", f"{private}:/nonexistent")
    assert own_cluster.start().running


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to the postgres user")
def test_a_home_below_a_directory_postgres_cannot_enter_is_refused_naming_it():
    base = make_home("geomap-private-")
    private = base / "private"
    private.mkdir(mode=0o700)
    home = private / "home"
    with pytest.raises(DatabaseUnavailable) as raised:
        Cluster(home).start()
    shutil.rmtree(base)
    assert f"({private} is private)" in str(raised.value) and "GEOMAP_HOME" in str(raised.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="the reference probe runs as another user, which needs root")
def test_may_search_agrees_with_the_kernel_for_every_owner_and_mode():
    """Reference: the kernel itself, asked by /usr/bin/test run as the postgres user."""
    postgres = pwd.getpwnam("postgres")
    other = pwd.getpwnam("nobody")
    tmp_path = make_home("geomap-modes-")
    for owner, group in [(postgres.pw_uid, 0), (0, postgres.pw_gid), (other.pw_uid, other.pw_gid)]:
        for mode in (0o700, 0o710, 0o701, 0o750, 0o705, 0o770, 0o755, 0o000, 0o111):
            path = tmp_path / f"d{owner}-{group}-{mode:o}"
            path.mkdir()
            os.chown(path, owner, group)
            path.chmod(mode)
            kernel = subprocess.run(["/usr/bin/test", "-x", str(path)], user=postgres.pw_uid,
                                    group=postgres.pw_gid, extra_groups=[]).returncode == 0
            assert may_search(path.stat(), postgres.pw_uid, postgres.pw_gid) is kernel, (owner, group, oct(mode))
    shutil.rmtree(tmp_path)
