"""site/settings.py read from the environment: what it refuses, and what it defaults to.

Each test runs the settings module afresh (runpy) in an environment of its own;
the test run's own settings stay as they were loaded.
"""

from __future__ import annotations

import runpy
import secrets
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parent.parent
# Variables the test run itself may have set, which each test decides anew.
DECIDED_HERE = [
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "DJANGO_HTTPS",
    "DJANGO_HSTS_PRELOAD",
    "SMALLIMAGE_KEEP_LOCATION",
    # tests/postgres.py points DATABASE_URL at the test run's own server.
    "DATABASE_URL",
    "POSTGRES_DB",
    "DJANGO_CONN_MAX_AGE",
]


@pytest.fixture
def load_settings(monkeypatch, tmp_path) -> Callable[..., dict[str, Any]]:
    """A function running site/settings.py in the given environment; its names."""

    def load(**environment: str) -> dict[str, Any]:
        for name in DECIDED_HERE:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("SMALLIMAGE_VAR_DIR", str(tmp_path / "var"))
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(ROOT / "site" / "settings.py"))

    return load


def env_example_secret_key() -> str:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return next(line.split("=", 1)[1] for line in lines if line.startswith("DJANGO_SECRET_KEY="))


GOOD_KEY = secrets.token_urlsafe(50)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="missing"),
        pytest.param(GOOD_KEY[:49], id="short"),
        pytest.param("django-insecure-" + GOOD_KEY, id="django-insecure"),
        pytest.param("a1b2" * 20, id="repetitive"),
        pytest.param(env_example_secret_key(), id="env-example-placeholder"),
    ],
)
def test_production_refuses_a_weak_secret_key(load_settings, key):
    with pytest.raises(ImproperlyConfigured) as refusal:
        load_settings(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=key)
    message = str(refusal.value)
    assert message.startswith("DJANGO_SECRET_KEY ")
    assert 'python -c "import secrets; print(secrets.token_urlsafe(50))"' in message
    assert "\n" not in message


def test_the_env_example_placeholder_is_named_as_such(load_settings):
    """Should .env.example change its placeholder, settings must learn the new one."""
    with pytest.raises(ImproperlyConfigured, match=r"placeholder from \.env\.example"):
        load_settings(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=env_example_secret_key())


def test_production_takes_a_long_random_key(load_settings, tmp_path):
    assert load_settings(DJANGO_SECRET_KEY=GOOD_KEY)["SECRET_KEY"] == GOOD_KEY
    assert not (tmp_path / "var" / "secret-key").exists()


def test_debug_without_a_key_generates_one_into_var_once(load_settings, tmp_path):
    key = load_settings(DJANGO_DEBUG="1")["SECRET_KEY"]
    path = tmp_path / "var" / "secret-key"
    assert path.read_text() == key and len(key) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_settings(DJANGO_DEBUG="1")["SECRET_KEY"] == key


def test_a_server_refuses_to_start_without_a_key(tmp_path):
    """The same refusal in a real process: its last line says what to do."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SMALLIMAGE_VAR_DIR": str(tmp_path), "DJANGO_DEBUG": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "DJANGO_SECRET_KEY is not set" in last_line and "token_urlsafe(50)" in last_line


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        *[(word, True) for word in ["1", "true", "True", "YES", "on", " on "]],
        *[(word, False) for word in ["0", "false", "FALSE", "no", "Off"]],
    ],
)
def test_booleans_take_their_documented_spellings(load_settings, spelling, expected):
    loaded = load_settings(DJANGO_SECRET_KEY=GOOD_KEY, SMALLIMAGE_KEEP_LOCATION=spelling)
    assert loaded["SMALLIMAGE_KEEP_LOCATION"] is expected


def test_an_empty_boolean_means_its_default(load_settings):
    loaded = load_settings(DJANGO_SECRET_KEY=GOOD_KEY, SMALLIMAGE_SIGNUP_OPEN="")
    assert loaded["SMALLIMAGE_SIGNUP_OPEN"] is True


@pytest.mark.parametrize("spelling", ["treu", "2", "enabled", "y"])
def test_a_misspelt_boolean_is_refused_by_name(load_settings, spelling):
    """A typo in DJANGO_HTTPS must not quietly serve plain HTTP."""
    with pytest.raises(ImproperlyConfigured, match=f"^DJANGO_HTTPS must be 1/0.*'{spelling}'"):
        load_settings(DJANGO_SECRET_KEY=GOOD_KEY, DJANGO_HTTPS=spelling)


@pytest.mark.parametrize(
    ("https", "preload", "expected"),
    [("1", None, False), ("1", "0", False), ("1", "1", True), ("0", "1", False)],
)
def test_hsts_preload_is_opt_in_and_only_over_https(load_settings, https, preload, expected):
    environment = {"DJANGO_SECRET_KEY": GOOD_KEY, "DJANGO_HTTPS": https}
    if preload is not None:
        environment["DJANGO_HSTS_PRELOAD"] = preload
    loaded = load_settings(**environment)
    assert loaded["SECURE_HSTS_PRELOAD"] is expected
    assert loaded["SECURE_HSTS_SECONDS"] == (31536000 if https == "1" else 0)


def database(load_settings, **environment: str) -> dict[str, Any]:
    return load_settings(DJANGO_SECRET_KEY=GOOD_KEY, **environment)["DATABASES"]["default"]


def test_database_url_gives_every_part(load_settings):
    loaded = database(
        load_settings,
        DATABASE_URL="postgresql://smallimage:secret@db.example.com:6543/gallery?sslmode=require",
    )
    assert loaded == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "gallery",
        "USER": "smallimage",
        "PASSWORD": "secret",
        "HOST": "db.example.com",
        "PORT": "6543",
        "OPTIONS": {"sslmode": "require"},
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "DISABLE_SERVER_SIDE_CURSORS": False,
    }


@pytest.mark.parametrize(
    "url",
    [
        # libpq's convention, which tests/postgres.py uses.
        pytest.param("postgres://postgres@/smallimage?host=/tmp/Pg%20Run/s&port=5439", id="query"),
        pytest.param("postgres://postgres@%2Ftmp%2FPg%20Run%2Fs:5439/smallimage", id="netloc"),
    ],
)
def test_database_url_takes_a_socket_directory(load_settings, url):
    """A socket directory is the HOST, as Django and libpq expect, case and spaces kept."""
    loaded = database(load_settings, DATABASE_URL=url)
    assert (loaded["HOST"], loaded["PORT"], loaded["NAME"]) == (
        "/tmp/Pg Run/s",
        "5439",
        "smallimage",
    )
    assert "OPTIONS" not in loaded


def test_database_url_decodes_a_percent_encoded_password(load_settings):
    loaded = database(load_settings, DATABASE_URL="postgres://app:p%40ss%3Aw%2Fr%23d@db/gallery")
    assert (loaded["USER"], loaded["PASSWORD"], loaded["HOST"]) == ("app", "p@ss:w/r#d", "db")


def test_database_url_connections_live_as_long_as_django_conn_max_age(load_settings):
    loaded = database(load_settings, DATABASE_URL="postgres://db/gallery", DJANGO_CONN_MAX_AGE="0")
    assert loaded["CONN_MAX_AGE"] == 0
    assert loaded["CONN_HEALTH_CHECKS"] is True


def test_database_url_wins_over_postgres_variables(load_settings):
    loaded = database(load_settings, DATABASE_URL="postgres://db/gallery", POSTGRES_DB="other")
    assert loaded["NAME"] == "gallery"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("mysql://app:secret@db/gallery", "not mysql://"),
        # dj-database-url knows these, but SmallImage runs on PostgreSQL alone.
        ("pgsql://app:secret@db/gallery", "not pgsql://"),
        ("sqlite:///var/secret.sqlite3", "not sqlite://"),
        ("//app:secret@db/gallery", "not one without a scheme"),
    ],
)
def test_database_url_other_than_postgres_is_refused_by_name(load_settings, url, named):
    with pytest.raises(ImproperlyConfigured) as refusal:
        database(load_settings, DATABASE_URL=url)
    message = str(refusal.value)
    assert message.startswith("DATABASE_URL must be a postgres:// or postgresql:// URL")
    assert message.endswith(named)
    assert "secret" not in message


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgres://app:secret@db:port/gallery", id="port"),
        pytest.param("postgres://app:secret@[db/gallery", id="bracket"),
        # urllib's own message here quotes the netloc, password and all.
        pytest.param("postgres://app:secret\uff03x@db/gallery", id="fullwidth-hash"),
    ],
)
def test_a_malformed_database_url_is_refused_without_its_password(load_settings, url):
    with pytest.raises(ImproperlyConfigured, match=r"^DATABASE_URL is not a valid URL") as refusal:
        database(load_settings, DATABASE_URL=url)
    assert "secret" not in str(refusal.value)
