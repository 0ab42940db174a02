"""Script tasks (python and shell ``Script``/``Commands``) run as local processes, like Kestra's
``io.kestra.plugin.core.runner.Process`` task runner, in a fresh working directory per task run.

What Kestra does and we do too: ``inputFiles`` written into the working directory,
``beforeCommands`` then the commands under ``/bin/sh -c`` with ``set -e``, ``kestra:///``
URIs in the script replaced by local copies, stdout lines as INFO logs and stderr lines as
WARN logs, the ``::{"outputs": {...}}::`` protocol of ``Kestra.outputs()`` into ``vars``,
``outputFiles`` globs (and files written to ``{{ outputDir }}``) stored in internal storage,
``exitCode``, a non-zero exit -> FAILED, ``warningOnStdErr`` -> WARNING, ``namespaceFiles``
(the namespace's files copied into the working directory first: tasks/namespace.py).
Differences: no containers (``containerImage``/Docker runners are ignored with a log
line); ``python`` is the interpreter the sandbox runs under, where Kestra's own ``kestra``
package (``from kestra import Kestra``) is importable.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from kestra_magic.sandbox.pebble_functions import mask_secrets
from kestra_magic.sandbox.tasks.base import TaskFailure, TaskResult, task
from kestra_magic.sandbox.tasks.namespace import load_namespace_files

_COMMON = ["beforeCommands", "containerImage", "taskRunner", "docker", "env", "inputFiles", "outputFiles",
           "namespaceFiles", "warningOnStdErr", "interpreter", "targetOS", "failFast", "outputDirectory",
           "runner", "dependencies", "dependencyCacheEnabled", "pythonVersion", "packageManager",
           "installDependencies"]
_PROTOCOL = re.compile(r"^::(\{.*\})::\s*$")
_URI = re.compile(r"kestra:///[^\s'\"`)<>|;]+")
_LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"}
_CREDENTIALS = {"KESTRA_PASSWORD", "KESTRA_API_TOKEN", "KESTRA_TOKEN", "KESTRA_USERNAME", "KESTRA_USER"}


def _truthy(value, default: bool) -> bool:
    if value is None:
        return default
    return str(value).strip().lower() not in ("false", "0", "no", "")


def _python_bin_dir() -> str:
    """A directory with ``python``/``python3`` pointing at the sandbox's own interpreter."""
    global _BIN
    if _BIN is None or not Path(_BIN).is_dir():
        path = tempfile.mkdtemp(prefix="kestra-sandbox-bin-")
        for name in ("python", "python3"):
            # a wrapper, not a symlink: a symlinked venv interpreter would lose its venv
            target = os.path.join(path, name)
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            os.chmod(target, 0o755)
        _BIN = path
    return _BIN


_BIN: str | None = None

# Used only when Kestra's own ``kestra`` package (the ``kestra-magic[scripts]`` extra) is not
# installed, so that scripts written for Kestra still run: the same calls, the same protocol.
_KESTRA_SHIM = '''"""Stand-in for Kestra's `kestra` package (pip install 'kestra-magic[scripts]' for the real one)."""
import json
import time


class _Logger:
    def _send(self, level, message):
        print("::" + json.dumps({"logs": [{"level": level, "message": str(message)}]}) + "::", flush=True)

    def debug(self, message, *args):
        self._send("DEBUG", message % args if args else message)

    def info(self, message, *args):
        self._send("INFO", message % args if args else message)

    def warning(self, message, *args):
        self._send("WARN", message % args if args else message)

    warn = warning

    def error(self, message, *args):
        self._send("ERROR", message % args if args else message)


class Kestra:
    @staticmethod
    def outputs(map_):
        print("::" + json.dumps({"outputs": map_}) + "::", flush=True)

    @staticmethod
    def _metric(kind, name, value, tags):
        print("::" + json.dumps({"metrics": [{"name": name, "type": kind, "value": value,
                                                "tags": tags or {}}]}) + "::", flush=True)

    @staticmethod
    def counter(name, value, tags=None):
        Kestra._metric("counter", name, value, tags)

    @staticmethod
    def gauge(name, value, tags=None):
        Kestra._metric("gauge", name, value, tags)

    @staticmethod
    def timer(name, duration, tags=None):
        if callable(duration):
            started = time.time()
            duration()
            duration = time.time() - started
        Kestra._metric("timer", name, duration, tags)

    @staticmethod
    def logger():
        return _Logger()

    @staticmethod
    def read(path_):
        from amazon.ion import simpleion
        with open(path_, "rb") as handle:
            return [dict(row) for row in simpleion.loads(handle.read(), single_value=False)]
'''
_SHIM_DIR: str | None = None


def _kestra_shim_dir() -> str | None:
    """A directory to put on PYTHONPATH when the real ``kestra`` package is missing."""
    global _SHIM_DIR
    import importlib.util
    if importlib.util.find_spec("kestra") is not None:
        return None
    if _SHIM_DIR is None or not Path(_SHIM_DIR).is_dir():
        path = Path(tempfile.mkdtemp(prefix="kestra-sandbox-shim-")) / "kestra"
        path.mkdir()
        (path / "__init__.py").write_text(_KESTRA_SHIM, encoding="utf-8")
        _SHIM_DIR = str(path.parent)
    return _SHIM_DIR


class _Localizer:
    """Replaces kestra:/// URIs in rendered text by local copies in the working directory."""

    def __init__(self, ctx, workdir: Path):
        self.ctx, self.workdir, self.copies = ctx, workdir, {}

    def path(self, uri: str) -> str:
        if uri not in self.copies:
            source = self.ctx.local_path(uri)
            target_dir = self.workdir / ".kestra-files" / self.ctx.task_run_id / str(len(self.copies))
            target_dir.mkdir(parents=True, exist_ok=True)
            target = target_dir / source.name
            shutil.copyfile(source, target)
            self.copies[uri] = str(target)
        return self.copies[uri]

    def text(self, value: str) -> str:
        return _URI.sub(lambda m: self.path(m.group(0)), value)


def _input_files(props: dict, ctx, workdir: Path, variables: dict) -> None:
    files = props.get("inputFiles")
    if files is None:
        return
    files = ctx.render(files, **variables)
    if isinstance(files, str):
        try:
            files = json.loads(files)
        except ValueError:
            raise TaskFailure("`inputFiles` must be a map of file name to content (or a JSON object)") from None
    if not isinstance(files, dict):
        raise TaskFailure("`inputFiles` must be a map of file name to content")
    for name, content in files.items():
        target = (workdir / str(name)).resolve()
        if workdir.resolve() not in target.parents:
            raise TaskFailure(f"Input file name '{name}' escapes the working directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        text = "" if content is None else json.dumps(content) if isinstance(content, (dict, list)) else str(content)
        if text.startswith("kestra://") and "\n" not in text.strip():
            shutil.copyfile(ctx.local_path(text.strip()), target)
        else:
            target.write_text(text, encoding="utf-8")


def output_dir(ctx) -> Path:
    """This task run's ``{{ outputDir }}`` (hidden, per task run: a WorkingDirectory is shared)."""
    path = ctx.workdir() / f".kestra-output-{ctx.task_run_id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _output_files(props: dict, ctx, workdir: Path, outdir: Path, variables: dict) -> dict:
    found: dict[str, str] = {}
    patterns = props.get("outputFiles")
    if patterns is not None:
        patterns = ctx.render(patterns, **variables)
        if isinstance(patterns, str):
            patterns = [patterns]
        for pattern in patterns or []:
            for match in sorted(glob.glob(str(workdir / str(pattern)), recursive=True)):
                path = Path(match)
                rel_parts = path.relative_to(workdir).parts
                if path.is_file() and not any(part.startswith(".kestra-") for part in rel_parts):
                    found[path.relative_to(workdir).as_posix()] = ""
    for path in sorted(outdir.rglob("*")):
        if path.is_file():
            found[path.relative_to(outdir).as_posix()] = ""
    result = {}
    for rel in found:
        source = workdir / rel if (workdir / rel).is_file() else outdir / rel
        result[rel] = ctx.put_file(rel, source)
    return result


def _env(props: dict, ctx, workdir: Path, outdir: Path, variables: dict) -> dict:
    # the client's credentials (a sandbox embedded in a notebook kernel shares its environment)
    # are not the script's business
    env = {k: v for k, v in os.environ.items() if k not in _CREDENTIALS}
    env["PATH"] = _python_bin_dir() + os.pathsep + env.get("PATH", "")
    env["WORKING_DIR"] = str(workdir)
    env["OUTPUT_DIR"] = str(outdir)
    env.pop("PYTHONSTARTUP", None)
    env["PYTHONUNBUFFERED"] = "1"
    shim = _kestra_shim_dir()
    if shim:
        env["PYTHONPATH"] = shim + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    extra = ctx.render(props.get("env") or {}, **variables)
    if not isinstance(extra, dict):
        raise TaskFailure("`env` must be a map of variable name to value")
    env.update({str(k): "" if v is None else str(v) for k, v in extra.items()})
    return env


def _ignored_runner_notes(props: dict, ctx) -> None:
    if props.get("containerImage"):
        ctx.log("INFO", f"containerImage '{props['containerImage']}' is ignored: the sandbox runs scripts as "
                        f"local processes with its own Python ({sys.executable})")
    runner = props.get("taskRunner")
    if isinstance(runner, dict) and "Process" not in str(runner.get("type", "")):
        ctx.log("INFO", f"taskRunner '{runner.get('type')}' is ignored: the sandbox uses the Process task runner")


def run_commands(props: dict, ctx, build, *, import_workdir: bool = False) -> TaskResult:
    """Shared body of every script task; ``build(variables, localize) -> list of shell lines``.

    ``import_workdir``: the working directory goes first on PYTHONPATH. Kestra writes a python
    ``Script`` into the working directory, so ``import`` finds namespace and input files there;
    the sandbox keeps the script file in a hidden folder (out of ``outputFiles``' reach)."""
    workdir = ctx.workdir()
    outdir = output_dir(ctx)
    variables = {"workingDir": str(workdir), "outputDir": str(outdir)}
    _ignored_runner_notes(props, ctx)
    # namespace files first, then inputFiles over them (CommandsWrapper.run)
    load_namespace_files(props.get("namespaceFiles"), ctx, workdir)
    _input_files(props, ctx, workdir, variables)
    localizer = _Localizer(ctx, workdir)
    before = ctx.render(props.get("beforeCommands") or [], **variables)
    before = [before] if isinstance(before, str) else list(before)
    lines = [localizer.text(str(c)) for c in before] + build(variables, localizer)
    fail_fast = _truthy(ctx.render(props.get("failFast")), True)
    script = ("set -e\n" if fail_fast else "") + "\n".join(lines) + "\n"
    env = _env(props, ctx, workdir, outdir, variables)
    if import_workdir:
        env["PYTHONPATH"] = str(workdir) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    vars_: dict = {}
    stderr_seen = threading.Event()

    def pump(stream, is_err: bool) -> None:
        for raw in iter(stream.readline, ""):
            line = raw.rstrip("\n")
            match = _PROTOCOL.match(line.strip())
            if match:
                try:
                    message = json.loads(match.group(1))
                except ValueError:
                    message = None
                if isinstance(message, dict):
                    if isinstance(message.get("outputs"), dict):
                        vars_.update(message["outputs"])
                    for entry in message.get("logs") or []:
                        level = str(entry.get("level", "INFO")).upper()
                        ctx.log(level if level in _LEVELS else "INFO", mask_secrets(str(entry.get("message", ""))))
                    continue
            if is_err:
                stderr_seen.set()
                ctx.log("WARN", mask_secrets(line))
            else:
                ctx.log("INFO", mask_secrets(line))
        stream.close()

    try:
        proc = subprocess.Popen(["/bin/sh", "-c", script], cwd=workdir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, bufsize=1,
                                start_new_session=True, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TaskFailure(f"Unable to start the script process: {exc}") from None
    readers = [threading.Thread(target=pump, args=(proc.stdout, False), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, True), daemon=True)]
    for reader in readers:
        reader.start()
    while proc.poll() is None:
        if ctx.cancelled.wait(0.02):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
            for reader in readers:
                reader.join(1)
            raise TaskFailure("Script process killed")
    for reader in readers:
        reader.join(5)
    if any(reader.is_alive() for reader in readers):   # a background child still holds the pipes
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for reader in readers:
            reader.join(2)
    code = proc.returncode
    outputs: dict = {"vars": vars_, "exitCode": code}
    if code != 0:
        failure = TaskFailure(f"Command failed with exit code {code}")
        failure.outputs = outputs
        raise failure
    files = _output_files(props, ctx, workdir, outdir, variables)
    if files or props.get("outputFiles") is not None:
        outputs["outputFiles"] = files
    warn = _truthy(ctx.render(props.get("warningOnStdErr")), True)
    return TaskResult(outputs=outputs, state="WARNING" if warn and stderr_seen.is_set() else "SUCCESS")


def _commands(props: dict, ctx, variables: dict, localizer: _Localizer) -> list[str]:
    commands = ctx.render(props["commands"], **variables)
    commands = [commands] if isinstance(commands, str) else list(commands)
    return [localizer.text(str(c)) for c in commands]


def _script_file(props: dict, ctx, variables: dict, localizer: _Localizer, suffix: str) -> str:
    text = localizer.text(str(ctx.render(props["script"], **variables)))
    where = ctx.workdir() / ".kestra-files" / ctx.task_run_id   # hidden: never matched by outputFiles
    where.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="script-", dir=where)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


PY = "io.kestra.plugin.scripts.python."
SH = "io.kestra.plugin.scripts.shell."


@task(PY + "Script", required=["script"], optional=_COMMON)
def python_script(props: dict, ctx) -> TaskResult:
    """Runs ``script`` with the sandbox's Python (``python <file>``)."""
    return run_commands(props, ctx, lambda v, loc: [f'python "{_script_file(props, ctx, v, loc, ".py")}"'],
                        import_workdir=True)


@task(PY + "Commands", required=["commands"], optional=_COMMON)
def python_commands(props: dict, ctx) -> TaskResult:
    """Runs shell ``commands`` where ``python`` is the sandbox's Python."""
    return run_commands(props, ctx, lambda v, loc: _commands(props, ctx, v, loc))


@task(SH + "Script", required=["script"], optional=_COMMON)
def shell_script(props: dict, ctx) -> TaskResult:
    return run_commands(props, ctx, lambda v, loc: [f'/bin/sh "{_script_file(props, ctx, v, loc, ".sh")}"'])


@task(SH + "Commands", required=["commands"], optional=_COMMON)
def shell_commands(props: dict, ctx) -> TaskResult:
    return run_commands(props, ctx, lambda v, loc: _commands(props, ctx, v, loc))
