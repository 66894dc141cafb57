"""The lock files agree with what they were compiled from, and install anywhere.

requirements*.in name the direct dependencies; `make lock` compiles them into
requirements*.txt. A pin edited in an .in file but never compiled, or a lock file
edited by hand, would install something other than what the .in files say.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# A compiled line: a name and an exact version, nothing pip would fetch from elsewhere.
LOCKED_LINE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+")


def requirement_lines(name: str) -> list[str]:
    """The file's requirement lines: comments, blanks and -r/-c includes left out."""
    lines = (ROOT / name).read_text().splitlines()
    stripped = (line.split("#", 1)[0].strip() for line in lines)
    return [line for line in stripped if line and not line.startswith(("-r ", "-c "))]


def pins(name: str) -> dict[str, str]:
    """Package name (canonical) to its exact version."""
    found: dict[str, str] = {}
    for line in requirement_lines(name):
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{name}: {line} is not an exact pin"
        found[canonicalize_name(requirement.name)] = specifier.version
    return found


@pytest.mark.parametrize(
    ("source", "lock"),
    [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")],
)
def test_each_lock_file_holds_the_pins_of_its_in_file(source, lock):
    locked = pins(lock)
    stale = {
        package: (version, locked.get(package))
        for package, version in pins(source).items()
        if locked.get(package) != version
    }
    assert not stale, f"{source} and {lock} differ (run `make lock`): {stale}"


def test_the_dev_lock_installs_the_runtime_lock_unchanged():
    """`make test`'s install also stands for `make run`'s (the Makefile's stamps)."""
    development = pins("requirements-dev.txt")
    runtime = pins("requirements.txt")
    differing = {
        package: (version, development.get(package))
        for package, version in runtime.items()
        if development.get(package) != version
    }
    assert not differing


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_lock_files_are_plain_exact_pins(lock):
    """No includes, extras, URLs or index options: the Docker build reads the file alone."""
    text = (ROOT / lock).read_text()
    assert "\n-" not in text and not text.startswith("-")
    odd = [line for line in requirement_lines(lock) if not LOCKED_LINE.fullmatch(line)]
    assert not odd


def test_pre_commit_hooks_run_the_locked_versions():
    """The optional pre-commit hooks lint with the same tools `make lint` installs."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    revs = {repo["repo"].rsplit("/", 1)[-1]: repo["rev"] for repo in config["repos"]}
    locked = pins("requirements-dev.txt")
    assert revs == {
        "django-upgrade": locked["django-upgrade"],
        "ruff-pre-commit": f"v{locked['ruff']}",
    }
