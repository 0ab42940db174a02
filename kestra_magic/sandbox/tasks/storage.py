"""Kestra's storage tasks beyond Write: core.storage.Concat, and 1.x's core.storage.LocalFiles
(io.kestra.plugin.core.storage.*; LocalFiles was removed in 2.0)."""
from __future__ import annotations

import glob
import json
from pathlib import Path

from kestra_magic.sandbox.tasks.base import TaskFailure, task
from kestra_magic.sandbox.tasks.scripts import _input_files

STORAGE = "io.kestra.plugin.core.storage."


@task(STORAGE + "Concat", required=["files"], optional=["separator", "extension"],
      aliases=["io.kestra.core.tasks.storages.Concat"])
def concat(props: dict, ctx) -> dict:
    """Concatenates internal-storage ``files`` (a list, or a JSON list string) with ``separator``
    between (and after) each, into one new file (``uri`` output) (Concat.run)."""
    files = props["files"]
    if isinstance(files, str):
        rendered = ctx.render(files)
        try:
            files = json.loads(rendered)
        except ValueError:
            raise TaskFailure(f"Invalid `files`: '{rendered[:200]}' is not a JSON list of URIs") from None
    if not isinstance(files, list):
        raise TaskFailure(f"Invalid `files` properties with type '{type(files).__name__}'")
    separator = props.get("separator")
    separator = None if separator is None else str(ctx.render(separator))
    extension = str(ctx.render(props.get("extension") or ".tmp"))
    parts: list[bytes] = []
    for uri in files:
        parts.append(ctx.local_path(str(ctx.render(uri)).strip()).read_bytes())
        if separator is not None:
            parts.append(separator.encode("utf-8"))
    name = f"{ctx.task_run_id}{extension if extension.startswith('.') else '.' + extension}"
    return {"uri": ctx.put_file(name, b"".join(parts))}


@task(STORAGE + "LocalFiles", optional=["inputs", "outputs"], generations=[1],
      aliases=["io.kestra.core.tasks.storages.LocalFiles"],
      removed_message=("Invalid type: io.kestra.plugin.core.storage.LocalFiles (LocalFiles was removed in Kestra "
                       "2.0: use the inputFiles and outputFiles properties of WorkingDirectory or of the script "
                       "tasks)"))
def local_files(props: dict, ctx) -> dict:
    """Writes ``inputs`` (file name -> content or kestra:// URI) into the working directory and sends the
    files matching ``outputs`` (globs) to internal storage (``uris`` output, by relative path)."""
    workdir = ctx.workdir()
    if props.get("inputs") is not None:
        _input_files({"inputFiles": props["inputs"]}, ctx, workdir, {})
    uris: dict[str, str] = {}
    patterns = ctx.render(props.get("outputs") or [])
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        for match in sorted(glob.glob(str(workdir / str(pattern)), recursive=True)):
            path = Path(match)
            rel = path.relative_to(workdir)
            if path.is_file() and not any(part.startswith(".kestra-") for part in rel.parts):
                uris[rel.as_posix()] = ctx.put_file(rel.as_posix(), path)
    return {"uris": uris}
