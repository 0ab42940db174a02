"""Layers point down (../shared/design.md): notebook/ -> runs -> api/ -> transport -> config, with
leaf modules below (frames/ among them: pure bytes <-> DataFrame functions with no HTTP, used by the
API layer's input encoding and by the run layer's reads); the sandbox and the client meet only over HTTP. Every import in
the package (function-level ones too) is checked against that, so a call going up fails the suite."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "kestra_magic"

# rank of each part: a module may import only parts of a lower (or its own) rank
RUNS = {"runs", "follow", "sweep", "reading", "render", "timeline", "handle"}
LEAVES = {"errors", "models", "config", "encoding", "sse", "compat", "safe_yaml", "frames", "operations"}


def _part(module: str) -> str:
    """``kestra_magic.api.flows`` -> ``api``; ``kestra_magic.runs`` -> ``runs``; root -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _rank(part: str) -> int:
    if part == "notebook":
        return 5
    if part in RUNS:
        return 4
    if part == "api":
        return 2
    if part == "transport":
        return 1
    if part in LEAVES:
        return 0
    raise AssertionError(f"kestra_magic.{part} has no layer: add it to tests/test_layers.py")


def _module_of(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[str]:
    """Every kestra_magic module ``path`` imports, absolute or relative, at any depth."""
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(target)
            found += [f"{target}.{a.name}" for a in node.names]   # ``from kestra_magic import frames``
    return [m for m in found if m == "kestra_magic" or m.startswith("kestra_magic.")]


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PKG.parent / rel).with_suffix(".py").exists() or (PKG.parent / rel / "__init__.py").exists()


def _violations() -> list[str]:
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        module = _module_of(path)
        here = _part(module)
        for target in _imports(path):
            if not _is_module(target) or target == "kestra_magic":
                continue
            there = _part(target)
            if here == "sandbox":
                if there not in ("sandbox", "safe_yaml"):
                    bad.append(f"{module} imports {target}: the sandbox imports nothing of the client")
                continue
            if there == "sandbox":
                if module != "kestra_magic":   # km.start_sandbox() in the package root only
                    bad.append(f"{module} imports {target}: the client meets the sandbox over HTTP")
                continue
            if here == "":   # the package root fronts every layer
                continue
            if there == "notebook" and here != "notebook":
                bad.append(f"{module} imports {target}: nothing below notebook/ imports it")
            elif _rank(there) > _rank(here):
                bad.append(f"{module} imports {target}: {here} may not call up into {there}")
    return bad


def test_layers_point_down():
    assert _violations() == []


def test_the_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    """The checker itself: a lazy import going up is still an import going up."""
    fake = tmp_path / "kestra_magic"
    (fake / "notebook").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "notebook" / "__init__.py").write_text("")
    (fake / "notebook" / "widget.py").write_text("")
    (fake / "runs.py").write_text("def f():\n    from kestra_magic.notebook import widget\n")
    (fake / "sandbox").mkdir()
    (fake / "sandbox" / "__init__.py").write_text("from .. import runs\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["PKG"]), "PKG", fake)
    found = _violations()
    assert any(v.startswith("kestra_magic.runs imports kestra_magic.notebook") for v in found)
    assert any(v.startswith("kestra_magic.sandbox imports kestra_magic.runs") for v in found)
