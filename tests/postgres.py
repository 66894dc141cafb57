"""A throwaway PostgreSQL server for the test run.

Loaded with ``-p tests.postgres`` (see pyproject.toml), so pytest imports it
before any conftest. Its ``pytest_load_initial_conftests`` runs before
pytest-django's, which imports the settings: it makes a fresh cluster with
Debian's ``postgresql`` package, starts it on a unix socket in a private temp
directory, and points ``DATABASE_URL`` at it. pytest-django then creates and
drops its ``test_postgres`` database in that server as usual.

Nothing is started when the run brings its own database: ``DATABASE_URL`` or
``POSTGRES_DB`` set (a CI service, a compose file), or
``SMALLIMAGE_TEST_DATABASE=sqlite`` for the embedded SQLite default.

Under pytest-xdist (``make test`` runs ``-n 2``) the controller starts the one
server before it spawns the workers; they inherit ``DATABASE_URL`` and so start
none, and pytest-django gives each worker its own test database in it
(``test_postgres_gw0``, ...). tests/test_parallel.py checks all three.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

# Only the socket in our own directory is used (no TCP), so a fixed port cannot
# clash with another server; it only names the socket file.
PORT = 5439
# Short on purpose: a unix socket path must stay under about 100 bytes, which a
# long $TMPDIR could exceed.
SOCKET_PARENT = "/tmp"
# Debian's server refuses to run as root; as root we run it as this user.
SERVER_USER = "postgres"
# A throwaway server need not survive a crash, and without flushing it is much faster.
SERVER_OPTIONS = (
    "-c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
)
INSTALL_HINT = (
    "`make test` installs it (Debian package `postgresql`); or run on SQLite with "
    "SMALLIMAGE_TEST_DATABASE=sqlite, or on your own server with DATABASE_URL."
)


@dataclass
class Cluster:
    """A PostgreSQL cluster in a temp directory, with its socket next to its data."""

    bin_dir: Path
    root: Path
    started_in: float = 0.0
    watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def version(self) -> str:
        return self.bin_dir.parent.name

    @property
    def url(self) -> str:
        # libpq's convention, which settings follow: a socket directory as ?host=.
        return f"postgres://postgres@/postgres?host={quote(str(self.root), safe='/')}&port={PORT}"

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one of the server's programs, as the postgres user when we are root."""
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        # cwd: the postgres user may not be allowed into ours. stdin: the server
        # must not hold on to the terminal.
        return subprocess.run(
            command,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )

    def must_run(self, program: str, *args: str) -> None:
        result = self.run(program, *args)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise pytest.UsageError(
                f"Could not start the test PostgreSQL server: {program} failed.\n"
                f"{result.stdout}{result.stderr}{log}"
            )

    def start(self) -> None:
        began = time.monotonic()
        # C.UTF-8 exists on every Debian, whatever locale the caller's LANG names.
        self.must_run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync",
            "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        options = f"-k {shlex.quote(str(self.root))} -p {PORT} {SERVER_OPTIONS}"
        self.must_run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )
        self.started_in = time.monotonic() - began

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away) and remove the directory."""
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def find_bin_dir() -> Path | None:
    """The newest installed server's programs: /usr/lib/postgresql/<version>/bin."""
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]

    def version(bin_dir: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in bin_dir.parent.name.split(".") if part.isdigit())

    return max(found, key=version, default=None)


def make_cluster() -> Cluster:
    bin_dir = find_bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        raise pytest.UsageError(
            f"The tests run on PostgreSQL, which is not installed here. {INSTALL_HINT}"
        )
    root = Path(tempfile.mkdtemp(prefix="smallimage-pg-", dir=SOCKET_PARENT))
    if os.geteuid() == 0:
        # mkdtemp makes it 0700 and ours; /tmp itself lets the postgres user through.
        shutil.chown(root, user=SERVER_USER, group=SERVER_USER)
    return Cluster(bin_dir=bin_dir, root=root)


def start_watchdog(cluster: Cluster) -> subprocess.Popen[bytes]:
    """A process that stops the server once this one is gone, however it ends.

    pytest_unconfigure covers normal ends and Ctrl-C; this also covers SIGTERM,
    SIGKILL or a second Ctrl-C during teardown. It waits for end of file on a pipe
    that only we hold open, which the kernel closes when we exit. Its own session
    keeps Ctrl-C from reaching it.
    """
    return subprocess.Popen(
        [sys.executable, __file__, str(cluster.bin_dir), str(cluster.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


_cluster: Cluster | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    global _cluster
    choice = os.environ.get("SMALLIMAGE_TEST_DATABASE", "postgres")
    if choice not in {"postgres", "sqlite"}:
        raise pytest.UsageError(
            f"SMALLIMAGE_TEST_DATABASE must be postgres or sqlite, not {choice!r}"
        )
    if choice == "sqlite" or os.environ.get("DATABASE_URL") or os.environ.get("POSTGRES_DB"):
        return
    # --help and --version need no database.
    if early_config.known_args_namespace.help or early_config.known_args_namespace.version:
        return
    cluster = make_cluster()
    # Before starting: whatever happens from here on, the directory goes away.
    cluster.watchdog = start_watchdog(cluster)
    _cluster = cluster
    cluster.start()
    os.environ["DATABASE_URL"] = cluster.url


def pytest_unconfigure(config: pytest.Config) -> None:
    global _cluster
    if _cluster is None:
        return
    cluster, _cluster = _cluster, None
    cluster.stop()
    os.environ.pop("DATABASE_URL", None)
    if cluster.watchdog is not None:
        # Its stop() finds nothing left to do.
        cluster.watchdog.communicate()


def pytest_report_header(config: pytest.Config) -> str:
    # pytest-django suffixes each xdist worker's test database name: _gw0, _gw1...
    workers = ", one test database per worker" if config.getoption("numprocesses", 0) else ""
    if _cluster is not None:
        return (
            f"database: PostgreSQL {_cluster.version}, a throwaway cluster on a socket in "
            f"{_cluster.root} (started in {_cluster.started_in:.1f}s){workers}"
        )
    # What the settings made of the environment, whatever this module decided.
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return f"database: SQLite, {database.get('TEST', {}).get('NAME') or 'in memory'}{workers}"
    source = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "POSTGRES_*"
    where = f"{database['HOST'] or 'localhost'}:{database['PORT'] or 5432}"
    return f"database: PostgreSQL at {where}, from {source}{workers}"


if __name__ == "__main__":
    # The watchdog (see start_watchdog): wait until pytest is gone, then clean up.
    sys.stdin.buffer.read()
    Cluster(bin_dir=Path(sys.argv[1]), root=Path(sys.argv[2])).stop()
