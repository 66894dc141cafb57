"""Dependencies point one way: no import cycles, no app importing an app above it.

Read with ``ast``, never imported: an import inside a function, a relative
import and ``from package import submodule`` all count, as they all run
sooner or later. accounts → nothing of ours; gallery → accounts; api → both.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "gallery", "api")
# site/ is a plain directory on sys.path: its modules are top-level ("settings").
PLAIN_DIRECTORIES = ("site",)
# What each app may not import, directly or through a submodule.
# site/'s modules (settings, urls, wsgi, asgi) sit above every app: apps read
# settings through django.conf and never import the URL conf or entry points.
SITE = {"settings", "urls", "wsgi", "asgi"}
FORBIDDEN = {"accounts": {"gallery", "api", *SITE}, "gallery": {"api", *SITE}, "api": SITE}

Graph = dict[str, set[str]]


def module_files(root: Path) -> dict[str, Path]:
    """Every module of ours, by dotted name."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    for directory in PLAIN_DIRECTORIES:
        for path in sorted((root / directory).glob("*.py")):
            modules[path.stem] = path
    return modules


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _resolve_relative(module: str, level: int, target: str | None, modules: dict[str, Path]) -> str:
    package = module if _is_package(module, modules) else module.rpartition(".")[0]
    base = package.split(".")
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, *([target] if target else [])])


def _own(name: str, modules: dict[str, Path]) -> str | None:
    """The most specific module of ours that importing `name` runs, if any."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        targets: Iterable[str]
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, node.level, node.module, modules)
                if node.level
                else node.module or ""
            )
            # `from gallery import services` imports the submodule gallery.services;
            # `from gallery.models import Image` imports gallery.models.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            own = _own(target, modules)
            if own is not None and own != module:
                found.add(own)
    return found


def import_graph(root: Path) -> Graph:
    modules = module_files(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), each named in order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for neighbour in sorted(graph.get(node, ())):
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_through(min(group), group, graph) for group in groups]


def _cycle_through(start: str, group: set[str], graph: Graph) -> list[str]:
    # Breadth first inside the group: the shortest way from start back to start.
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for neighbour in sorted(graph[node] & group):
            if neighbour == start:
                return [*paths[node], start]
            if neighbour not in paths:
                paths[neighbour] = [*paths[node], neighbour]
                queue.append(neighbour)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one


def upward_imports(graph: Graph) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if target.split(".")[0] in FORBIDDEN.get(module.split(".")[0], set())
    )


def test_our_modules_import_each_other_without_cycles():
    found = [" -> ".join(cycle) for cycle in cycles(import_graph(ROOT))]
    assert found == [], "import cycles:\n" + "\n".join(found)


def test_no_app_imports_an_app_above_it():
    found = upward_imports(import_graph(ROOT))
    assert found == [], "accounts → nothing of ours; gallery → accounts; api → both:\n" + "\n".join(
        found
    )


def test_the_walk_reads_all_our_modules():
    graph = import_graph(ROOT)
    assert {"accounts.admin", "gallery.services", "gallery.tasks", "api.views", "urls"} <= set(
        graph
    )
    assert "gallery.models" in graph["gallery.services"]


@pytest.fixture
def tree(tmp_path: Path):
    """A throwaway source tree shaped like ours, written file by file."""

    def write(files: dict[str, str]) -> Graph:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        for package in PACKAGES:
            (tmp_path / package).mkdir(exist_ok=True)
            (tmp_path / package / "__init__.py").touch()
        (tmp_path / "site").mkdir(exist_ok=True)
        return import_graph(tmp_path)

    return write


def test_a_cycle_through_a_function_level_submodule_import_is_named(tree):
    graph = tree(
        {
            "gallery/services.py": "from gallery import tasks\n",
            "gallery/tasks.py": "def run():\n    from . import services\n",
        }
    )
    assert cycles(graph) == [["gallery.services", "gallery.tasks", "gallery.services"]]


def test_a_longer_cycle_through_absolute_and_relative_imports_is_named(tree):
    graph = tree(
        {
            "gallery/a.py": "import gallery.b\n",
            "gallery/b.py": "from .c import thing\n",
            "gallery/c.py": "from gallery.a import x\n",
            "gallery/d.py": "from gallery import a\n",
        }
    )
    assert cycles(graph) == [["gallery.a", "gallery.b", "gallery.c", "gallery.a"]]


def test_relative_imports_from_a_nested_package_resolve(tree):
    graph = tree(
        {
            "gallery/management/__init__.py": "",
            "gallery/management/commands/__init__.py": "",
            "gallery/management/commands/check.py": (
                "from ...services import run\nfrom .. import x\n"
            ),
            "gallery/services.py": "",
        }
    )
    assert graph["gallery.management.commands.check"] == {
        "gallery.services",
        "gallery.management",
    }


def test_an_upward_import_is_named(tree):
    graph = tree(
        {
            "accounts/admin.py": "def save():\n    from gallery import services\n",
            "gallery/services.py": "from accounts.models import User\n",
            "gallery/views.py": "from api.serializers import S\n",
            "accounts/models.py": "",
            "api/serializers.py": "from gallery import services\nfrom accounts import models\n",
        }
    )
    assert upward_imports(graph) == [
        "accounts.admin imports gallery.services",
        "gallery.views imports api.serializers",
    ]
    assert cycles(graph) == []
