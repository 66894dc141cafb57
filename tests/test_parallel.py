"""`make test` runs the suite in pytest-xdist workers: what they must share and what not.

A nested run of two workers (``--dist each``: both run the probe) reports what
each saw. They share the run's database server and secret key (tests/postgres.py
and tests/environment.py hand both down before the workers start), and each has
a test database of its own, so that one worker's flush or rollback never reaches
the other's tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import find_bin_dir

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json
import os
from pathlib import Path

from django.db import connection

import tests.postgres


# The fixture names each worker's test database, as for every test with db; creating
# the databases (migrations in each worker) would only double the nested run's time.
def test_report(django_db_modify_db_settings):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    report = {
        "database_url": os.environ.get("DATABASE_URL"),
        "secret_key": os.environ["DJANGO_SECRET_KEY"],
        "started_a_server": tests.postgres._cluster is not None,
        "test_database": str(connection.settings_dict["TEST"]["NAME"]),
        "vendor": connection.vendor,
    }
    Path(os.environ["PROBE_REPORTS"], f"{worker}.json").write_text(json.dumps(report))
"""


def run_two_workers(tmp_path: Path, database: str) -> tuple[str, list[dict[str, Any]]]:
    """A fresh `pytest -n 2` of the probe, as `make test` starts one; its output and reports."""
    (tmp_path / "test_probe.py").write_text(PROBE)
    reports = tmp_path / "reports"
    reports.mkdir()
    # What a shell that types `make test` has: nothing this run chose for itself.
    inherited = ("DATABASE_URL", "POSTGRES_", "DJANGO_SECRET_KEY", "PYTEST_", "SMALLIMAGE_")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    environment |= {
        # Only the plugins in question: the others' imports would double the run's time.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "SMALLIMAGE_TEST_DATABASE": database,
        "SMALLIMAGE_VAR_DIR": str(tmp_path / "var"),
        "PROBE_REPORTS": str(reports),
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "django",
        "-p",
        "xdist",
        "-p",
        "no:cacheprovider",
    ]
    # --dist each: both workers run the probe.
    command += [
        "-n",
        "2",
        "--dist",
        "each",
        "--rootdir",
        str(ROOT),
        "-c",
        str(ROOT / "pyproject.toml"),
    ]
    result = subprocess.run(
        [*command, str(tmp_path / "test_probe.py")],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout, [json.loads(path.read_text()) for path in sorted(reports.iterdir())]


@pytest.mark.skipif(find_bin_dir() is None, reason="PostgreSQL is not installed")
def test_workers_share_one_postgresql_server_with_a_database_each(tmp_path):
    output, (first, second) = run_two_workers(tmp_path, "postgres")

    # The controller started the one server, and stopped it and removed its directory.
    (socket_directory,) = re.findall(r"throwaway cluster on a socket in (\S+)", output)
    assert not Path(socket_directory).exists()
    assert first["vendor"] == second["vendor"] == "postgresql"
    assert not first["started_a_server"] and not second["started_a_server"]
    assert first["database_url"] == second["database_url"]
    assert socket_directory in first["database_url"]
    assert first["secret_key"] == second["secret_key"]
    assert {first["test_database"], second["test_database"]} == {
        "test_postgres_gw0",
        "test_postgres_gw1",
    }


def test_sqlite_workers_have_a_database_file_each(tmp_path):
    _, (first, second) = run_two_workers(tmp_path, "sqlite")

    assert first["vendor"] == second["vendor"] == "sqlite"
    assert first["secret_key"] == second["secret_key"]
    assert first["test_database"] != second["test_database"]
    for report in (first, second):
        assert Path(report["test_database"]).parent == tmp_path / "var"
