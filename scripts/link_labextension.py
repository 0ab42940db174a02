"""Make the prebuilt JupyterLab highlighting extension visible after an editable install.

``pip install .`` (a wheel) copies ``kestra_magic/labextension`` into
``<prefix>/share/jupyter/labextensions/kestra-magic-highlight`` (pyproject data files);
``pip install -e .`` does not install data files, so JupyterLab would not find it. This links that
directory to the package's copy (what ``jupyter labextension develop`` does, without its deprecated
command or a build toolchain). Used by scripts/quickstart.sh and scripts/setup-tests.sh.

    python scripts/link_labextension.py [--data-dir DIR]

DIR defaults to ``<sys.prefix>/share/jupyter`` when writable, else the user's Jupyter data dir.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def default_data_dir() -> Path:
    prefix = Path(sys.prefix) / "share" / "jupyter"
    probe = prefix if prefix.exists() else prefix.parent
    if os.access(probe, os.W_OK):
        return prefix
    from jupyter_core.paths import jupyter_data_dir
    return Path(jupyter_data_dir())


def link(data_dir: Path) -> str:
    import kestra_magic
    [spec] = kestra_magic._jupyter_labextension_paths()
    source = Path(kestra_magic.__file__).parent / spec["src"]
    if not (source / "package.json").is_file():
        raise SystemExit(f"link_labextension: {source} holds no prebuilt extension (package.json missing)")
    target = data_dir / "labextensions" / spec["dest"]
    if target.is_symlink():
        if target.resolve() == source.resolve():
            return f"{target} already links to {source}"
        target.unlink()
    elif target.exists():
        return f"{target} is installed (a wheel install); left as it is"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source, target_is_directory=True)
    return f"linked {target} -> {source}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="the Jupyter data directory to link into")
    args = parser.parse_args()
    print(link(args.data_dir or default_data_dir()))
