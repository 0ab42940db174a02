"""Strip outputs, execution counts and saved widget state from notebooks, in place.

The demo notebooks are committed without outputs (``tests/e2e/test_notebooks.py`` checks what git
holds). After running them in JupyterLab, before committing::

    python scripts/strip_notebooks.py notebooks/*.ipynb && git add notebooks/
"""
from __future__ import annotations

import sys

import nbformat


def strip(path: str) -> bool:
    """Strip one notebook; True when it changed."""
    nb = nbformat.read(path, as_version=4)
    changed = nb.metadata.pop("widgets", None) is not None
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        if c.outputs or c.execution_count is not None:
            changed = True
        c.outputs, c.execution_count = [], None
    if changed:
        nbformat.write(nb, path)
    return changed


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python scripts/strip_notebooks.py NOTEBOOK.ipynb ...")
    for p in sys.argv[1:]:
        print(("stripped " if strip(p) else "clean    ") + p)
