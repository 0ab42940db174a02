"""README command 2 on a fresh venv: ``pip install -e '.[test]'`` must bring every third-party module
the suite and the package import (a missing one was ``cryptography``, imported by the TLS tests).

Checked without a network: every top-level module imported anywhere in ``kestra_magic/``, ``tests/``
and ``bench/`` is either the standard library, the project itself, or provided by a distribution in
the dependency closure of ``kestra-magic[test]`` (read from pyproject.toml, then from the installed
distributions' own metadata, extras and markers evaluated). (Checked by hand as well, in a fresh
``python -m venv``: every such module imports, and the whole suite is collected.)"""
from __future__ import annotations

import ast
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.e2e.notebooks import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no tomllib; pip (in every venv) carries tomli. By name, so the scan below
    # does not count it as a dependency of the suite.
    import importlib
    tomllib = importlib.import_module("pip._vendor.tomli")

OWN = {"kestra_magic", "tests", "bench", "conftest"}


def imported_modules() -> dict[str, str]:
    """Top-level module -> a file that imports it."""
    found: dict[str, str] = {}
    for folder in ("kestra_magic", "tests", "bench", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                         else [])
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def closure(requirements: list[str], extras_of_self: dict[str, list[str]]) -> set[str]:
    """Canonical names of every distribution the requirements pull in (installed metadata)."""
    seen: set[str] = set()
    todo = [(Requirement(r), ()) for r in requirements]
    while todo:
        req, extras = todo.pop()
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in (extras or ("",))):
            continue
        name = canonicalize_name(req.name)
        if name == "kestra-magic":
            for extra in req.extras:
                todo += [(Requirement(r), ()) for r in extras_of_self[extra]]
            continue
        key = name + "[" + ",".join(sorted(req.extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue                  # not installed here: its own dependencies cannot be listed
        todo += [(Requirement(r), tuple(req.extras)) for r in dist.requires or []]
    return {k.split("[")[0] for k in seen}


def test_the_test_extra_brings_everything_the_suite_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = closure(project["dependencies"] + extras["test"], extras)
    providers = metadata.packages_distributions()
    missing = {}
    for module, where in sorted(imported_modules().items()):
        if module in OWN or module in sys.stdlib_module_names or module == "__future__":
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & wanted:
            missing[module] = (where, sorted(dists) or "not installed")
    assert not missing, f"imported but not installed by pip install -e '.[test]': {missing}"
