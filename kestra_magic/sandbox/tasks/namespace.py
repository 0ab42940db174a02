"""Namespace files inside flows: Kestra's ``io.kestra.plugin.core.namespace.UploadFiles``,
``DownloadFiles`` and ``DeleteFiles`` tasks, and the ``namespaceFiles`` property that copies a
namespace's files into a task's working directory before it runs (script tasks, WorkingDirectory).

The files are the sandbox store's, read and changed through :class:`~kestra_magic.sandbox.nsfiles.
NamespaceFiles` (the rules the ``/namespaces/{ns}/files`` API uses too), so an upload over the API
is seen by the next task run and a task's upload by the API.

Facts from kestra-io/kestra: core/src/main/java/io/kestra/plugin/core/namespace/{Upload,Download,
Delete}Files.java and their tests; core/.../utils/PathMatcherPredicate.java (how patterns match);
core/.../utils/NamespaceFilesUtils.java and core/.../models/tasks/NamespaceFiles.java (``namespaceFiles``).
"""
from __future__ import annotations

import contextlib
import json
import os
import posixpath
import re
import time
from pathlib import Path
from typing import Callable

from kestra_magic.sandbox.backend import DomainError
from kestra_magic.sandbox.engine_state import truthy
from kestra_magic.sandbox.nsfiles import CONFLICTS, NamespaceFiles
from kestra_magic.sandbox.tasks.base import TaskFailure, task

NS = "io.kestra.plugin.core.namespace."

# -- patterns -------------------------------------------------------------------------------
# Kestra matches paths with Java's PathMatcher ("glob:" / "regex:"). Java's glob is not Python's
# (fnmatch lets * cross '/', glob.translate and wcmatch only know ** as a whole path component),
# so this follows sun.nio.fs.Globs.toUnixRegexPattern: * and ? stay inside one component, ** crosses
# them anywhere, [!x] negates, {a,b} alternates (not nested), \ escapes.

_WORD_START = re.compile(r"[A-Za-z0-9_]")   # Java's \w at the start of the pattern


def java_glob_regex(glob: str) -> str:
    """The regular expression (for ``re.fullmatch``) of a Java ``glob:`` pattern."""
    out: list[str] = []
    i, group = 0, False
    while i < len(glob):
        c = glob[i]
        i += 1
        if c == "\\":
            if i == len(glob):
                raise ValueError("No character to escape")
            out.append(re.escape(glob[i]))
            i += 1
        elif c == "*":
            if glob.startswith("*", i):
                out.append(".*")
                i += 1
            else:
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = glob.find("]", i)
            if end < 0:
                raise ValueError("Missing ']'")
            body = glob[i:end]
            negate = body.startswith("!")
            chars = "".join("-" if ch == "-" else re.escape(ch) for ch in (body[1:] if negate else body))
            out.append(f"(?:(?!/)[{'^' if negate else ''}{chars}])")
            i = end + 1
        elif c == "{":
            if group:
                raise ValueError("Cannot nest groups")
            out.append("(?:(?:")
            group = True
        elif c == "}" and group:
            out.append("))")
            group = False
        elif c == "," and group:
            out.append(")|(?:")
        else:
            out.append(re.escape(c))
    if group:
        raise ValueError("Missing '}'")
    return "".join(out)


def path_matcher(patterns: list[str], base: str | None = None) -> Callable[[str], bool]:
    """PathMatcherPredicate.matches(base, patterns): ``regex:``/``glob:`` patterns as given; a bare
    pattern is a glob, chrooted at ``base`` when given, else prefixed with ``**/`` when it starts
    with a word character (``scripts/*.py`` matches ``/scripts/a.py``; ``*.py`` does not, paths
    start with ``/``). Raises TaskFailure on an invalid pattern."""
    compiled = []
    for pattern in patterns:
        try:
            if pattern.startswith("regex:"):
                compiled.append(re.compile(pattern[len("regex:"):]))
                continue
            if pattern.startswith("glob:"):
                glob = pattern[len("glob:"):]
            elif base is not None:
                glob = (base + (pattern if pattern.startswith(("/", "\\")) else "/" + pattern)).replace("\\", "/")
            else:
                glob = ("**/" + pattern if _WORD_START.match(pattern) else pattern).replace("\\", "/")
            compiled.append(re.compile(java_glob_regex(glob)))
        except (ValueError, re.error) as exc:
            raise TaskFailure(f"Invalid pattern '{pattern}': {exc}") from None
    return lambda path: any(rx.fullmatch(path) for rx in compiled)


def include_exclude(include: list[str], exclude: list[str]) -> Callable[[str], bool]:
    """PathMatcherPredicate.builder(): matching an include (all when none) and no exclude."""
    inc = path_matcher(include) if include else None
    exc = path_matcher(exclude) if exclude else None
    return lambda path: (inc is None or inc(path)) and (exc is None or not exc(path))


# -- the store's namespace files (rules: sandbox/nsfiles.py) ---------------------------------

def namespace_files(ctx) -> NamespaceFiles:
    """The namespace files of the sandbox running ``ctx`` (the ones the API serves)."""
    return NamespaceFiles(ctx.store)


@contextlib.contextmanager
def _as_task_failure():
    """A namespace-file rule's refusal fails the task with its message."""
    try:
        yield
    except DomainError as exc:
        raise TaskFailure(exc.message) from None


def _text_list(value, what: str) -> list[str]:
    """A rendered list-of-strings property (a list, a JSON list string, or one string)."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise TaskFailure(f"`{what}` must be a list of strings, got '{text[:200]}'") from None
        else:
            return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TaskFailure(f"`{what}` must be a list of strings")
    return value


# -- namespaceFiles ---------------------------------------------------------------------------

_NS_FILES_KEYS = {"enabled", "include", "exclude", "namespaces", "folderPerNamespace", "ifExists"}
_IF_EXISTS = ("OVERWRITE", "FAIL", "WARN", "IGNORE")   # FileExistComportment


def _hms(seconds: float) -> str:
    """DurationFormatUtils.formatDurationHMS: ``00:00:00.012``."""
    millis = int(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000:03d}"


def load_namespace_files(spec, ctx, workdir: Path) -> None:
    """Copy the namespace files ``spec`` (a task's ``namespaceFiles``) selects into ``workdir``.

    As NamespaceFilesUtils.loadNamespaceFiles (called by the script tasks' CommandsWrapper.run and by
    WorkingDirectory before its tasks): ``enabled`` defaults to true once ``namespaceFiles`` is
    given; ``include``/``exclude`` patterns match ``/path``; ``namespaces`` (default: the flow's)
    are read in order, a later namespace's file replacing an earlier one at the same place;
    ``folderPerNamespace`` puts each under ``<namespace>/``; ``ifExists`` (OVERWRITE, FAIL, WARN,
    IGNORE) decides for a file already in the working directory. Logs "Loaded N namespace files
    from 'ns' in 00:00:00.012" (NamespaceFilesUtilsTest)."""
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise TaskFailure("`namespaceFiles` must be a map: enabled, include, exclude, namespaces, "
                          "folderPerNamespace, ifExists")
    unknown = sorted(set(spec) - _NS_FILES_KEYS)
    if unknown:
        raise TaskFailure(f"Unknown `namespaceFiles` propert{'ies' if len(unknown) > 1 else 'y'} "
                          f"{', '.join(unknown)}: use {', '.join(sorted(_NS_FILES_KEYS))}")
    if not truthy(ctx.render(spec.get("enabled", True))):
        return
    started = time.monotonic()
    keep = include_exclude(_text_list(ctx.render(spec.get("include")), "namespaceFiles.include"),
                           _text_list(ctx.render(spec.get("exclude")), "namespaceFiles.exclude"))
    namespaces = _text_list(ctx.render(spec.get("namespaces")), "namespaceFiles.namespaces") or [ctx.namespace]
    per_namespace = truthy(ctx.render(spec.get("folderPerNamespace", False)))
    if_exists = str(ctx.render(spec.get("ifExists") or "OVERWRITE")).upper()
    if if_exists not in _IF_EXISTS:
        raise TaskFailure(f"Invalid `namespaceFiles.ifExists` '{if_exists}': use one of {', '.join(_IF_EXISTS)}")
    files = namespace_files(ctx)
    chosen: dict[str, bytes] = {}
    for namespace in namespaces:
        for path, data in sorted(files.latest(namespace).items()):
            if keep(path):
                chosen[(namespace + "/" if per_namespace else "") + path.lstrip("/")] = data
    root = workdir.resolve()
    for rel, data in chosen.items():
        target = (workdir / rel).resolve()
        if root not in target.parents:
            raise TaskFailure(f"Namespace file '{rel}' escapes the working directory")
        if target.exists() and if_exists != "OVERWRITE":
            if if_exists == "FAIL":
                raise TaskFailure(f"File '{rel}' already exists in the working directory (namespaceFiles.ifExists: FAIL)")
            if if_exists == "WARN":
                ctx.log("WARN", f"File '{rel}' already exists in the working directory: kept (namespaceFiles.ifExists: WARN)")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    ctx.log("INFO", f"Loaded {len(chosen)} namespace files from '{', '.join(namespaces)}' "
                    f"in {_hms(time.monotonic() - started)}")


# -- the tasks --------------------------------------------------------------------------------

def _namespace(props: dict, ctx) -> str:
    namespace = str(ctx.render(props["namespace"])).strip()
    if not namespace:
        raise TaskFailure("`namespace` rendered empty: give the namespace of the files, e.g. \"{{ flow.namespace }}\"")
    return namespace


def _patterns(props: dict, ctx, message: str) -> list[str]:
    """DownloadFiles/DeleteFiles ``files``: a string or a list of strings (patterns)."""
    files = props["files"]
    if isinstance(files, str):
        return [str(ctx.render(files))]
    if isinstance(files, list):
        return [str(f) for f in ctx.render(files)]
    raise TaskFailure(message)


def _workdir_files(workdir: Path) -> list[Path]:
    """Files under a working directory, without the sandbox's own ``.kestra-*`` entries."""
    found = []
    for dirpath, dirnames, filenames in os.walk(workdir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".kestra-"))
        found += [Path(dirpath) / name for name in sorted(filenames)]
    return found


@task(NS + "UploadFiles", required=["namespace"], optional=["files", "filesMap", "destination", "conflict"])
def upload_files(props: dict, ctx) -> dict:
    """Files of the working directory matching ``files`` (patterns chrooted at the working directory:
    WorkingDir.findAllFilesMatching) go to ``destination`` + their relative path; ``filesMap``
    (destination path -> kestra:/// URI, or that map as a JSON string) goes to ``destination`` +
    the key; a URI with no file is skipped, as Kestra skips it. ``conflict``: OVERWRITE (default),
    ERROR, SKIP. No outputs (UploadFiles.Output.files stays null)."""
    namespace = _namespace(props, ctx)
    destination = str(ctx.render(props.get("destination", "/")))
    destination = destination if destination.startswith("/") else "/" + destination   # checkLeadingSlash
    conflict = str(ctx.render(props.get("conflict") or "OVERWRITE")).upper()
    if conflict not in CONFLICTS:
        raise TaskFailure(f"Invalid `conflict` '{conflict}': use one of {', '.join(CONFLICTS)}")
    if props.get("files") is None and props.get("filesMap") is None:
        raise TaskFailure("files or filesMap is required")
    store = ctx.store
    files = namespace_files(ctx)
    if isinstance(props.get("files"), dict):
        raise TaskFailure("`files` is a list of patterns of working-directory files; for a map of destination "
                          "path to kestra:/// URI use `filesMap`")
    patterns = _text_list(ctx.render(props.get("files")), "files")
    if patterns:
        workdir = ctx.workdir()
        base = str(workdir.resolve())
        matches = path_matcher(patterns, base=base)
        for path in _workdir_files(workdir.resolve()):
            if matches(str(path)):
                rel = path.relative_to(base).as_posix()
                with _as_task_failure():
                    files.put(namespace, posixpath.join(destination, rel), path.read_bytes(), conflict)
    files_map = props.get("filesMap")
    if files_map is not None:
        if isinstance(files_map, str):
            text = str(ctx.render(files_map))
            try:
                files_map = json.loads(text)
            except ValueError:
                raise TaskFailure(f"filesMap must be a Map<String, String>, got '{text[:200]}'") from None
        else:
            files_map = ctx.render(files_map)
        if not isinstance(files_map, dict):
            raise TaskFailure("filesMap must be a Map<String, String>")
        for key, uri in files_map.items():
            if not isinstance(key, str) or not isinstance(uri, str):
                raise TaskFailure("filesMap must be a Map<String, String>")
            try:
                source = store.file_path(uri.strip())
            except ValueError as exc:
                raise TaskFailure(str(exc)) from None
            if source.is_file():
                # Kestra concatenates destination and key (Path.of(destination + key))
                with _as_task_failure():
                    files.put(namespace, destination + key, source.read_bytes(), conflict)
    return {}


@task(NS + "DownloadFiles", required=["namespace", "files"], optional=["destination"])
def download_files(props: dict, ctx) -> dict:
    """The namespace files matching ``files`` (patterns on ``/path``) copied to internal storage under
    ``destination``; output ``files``: ``/path`` -> kestra:/// URI (DownloadFilesTest)."""
    namespace = _namespace(props, ctx)
    matches = path_matcher(_patterns(props, ctx, "The files property must be a string or a list of strings"))
    destination = str(ctx.render(props.get("destination") or ""))
    downloaded: dict[str, str] = {}
    for path, data in sorted(namespace_files(ctx).latest(namespace).items()):
        if matches(path):
            uri = ctx.put_file(destination + path, data)
            ctx.log("DEBUG", f"Downloaded {uri}")
            downloaded[path] = uri
    return {"files": downloaded}


@task(NS + "DeleteFiles", required=["namespace", "files"], optional=["deleteParentFolder"])
def delete_files(props: dict, ctx) -> dict:
    """Deletes the namespace files matching ``files``; with ``deleteParentFolder`` also their parent
    folders left empty, deepest first (DeleteFilesTest). No outputs."""
    namespace = _namespace(props, ctx)
    matches = path_matcher(_patterns(props, ctx, "Files must be a String or a list of String"))
    delete_parents = truthy(ctx.render(props.get("deleteParentFolder", False)))
    doomed = namespace_files(ctx).delete_files(namespace, matches, delete_parents=delete_parents)
    for path in doomed:
        ctx.log("DEBUG", f"Deleted {path}")
    return {}
