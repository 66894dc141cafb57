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
    with pytest.raises(ImproperlyConfigured, match="placeholder from .env.example"):
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
