"""The environment the test run's settings load in.

Loaded with ``-p tests.environment`` (see pyproject.toml), before pytest-django
imports the settings. Tests run with DJANGO_DEBUG off, as in production, and
settings then refuse to start without a real DJANGO_SECRET_KEY: each run gets a
fresh one, which the processes that tests start inherit, and so do pytest-xdist's
workers: they keep it (setdefault), so all of a run's processes share one key.
"""

from __future__ import annotations

import os
import secrets

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
