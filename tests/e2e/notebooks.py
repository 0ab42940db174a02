"""Run a repository notebook top to bottom with nbclient (a real ipykernel) and read its outputs."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def run_notebook(name: str, *, env: dict[str, str] | None = None, timeout: int = 180):
    """Execute ``notebooks/<name>.ipynb``; cells tagged ``raises-exception`` may fail, others not."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    kernel_env = {k: v for k, v in os.environ.items() if not k.startswith("KESTRA_")}
    kernel_env.pop("MPLBACKEND", None)   # keep the inline backend: plots become image/png outputs
    kernel_env.update(env or {})
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute(env=kernel_env)
    return nb


def cell(nb, needle: str, *, exact: bool = False):
    """The first code cell whose source contains ``needle`` (or is exactly it)."""
    for c in nb.cells:
        if c.cell_type == "code" and (c.source.strip() == needle if exact else needle in c.source):
            return c
    raise AssertionError(f"no code cell contains {needle!r}")


def text(c) -> str:
    """Everything a cell showed, as text: streams, text/plain, text/html, errors."""
    parts = []
    for out in c.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        else:
            data = out.get("data", {})
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in data:
                    parts.append(data[mime] if isinstance(data[mime], str) else "".join(data[mime]))
    return "\n".join(parts)


def plain(c) -> str:
    """The cell's execute_result as text/plain (its Out[])."""
    for out in c.get("outputs", []):
        if out.output_type == "execute_result":
            return out["data"].get("text/plain", "")
    raise AssertionError(f"cell has no result: {c.source[:60]!r}")


def errors(nb) -> list[str]:
    """`ename: evalue` of every error output in the notebook."""
    return [f"{o.ename}: {o.evalue}" for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.output_type == "error"]


def mimes(c) -> set[str]:
    return {m for out in c.get("outputs", []) for m in out.get("data", {})}
