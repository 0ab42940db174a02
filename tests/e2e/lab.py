"""Real-browser harness: JupyterLab on 127.0.0.1 plus Debian's headless Chromium
driven by Playwright, all state (HOME, Jupyter, Chromium profile) in one temp dir.

Kept apart from the fixtures so the pieces read on their own; every process
started here is stopped by the object that started it.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

CHROMIUM = os.environ.get("KESTRA_MAGIC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]

# JupyterLab user settings written into the isolated settings dir: start the
# preferred kernel without a dialog, and no network calls for news/updates.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "autoStartDefaultKernel": True,
        # every cell in the DOM, always (the default windowing detaches/skips off-screen cells)
        "windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/apputils-extension/announcements.jupyterlab-settings": {"fetchNews": "false"},
}


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every process, read from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            table[int(entry)] = (int(fields[1]), fields[0])
    return table


def descendants(root: int) -> set[int]:
    """Every process below ``root`` (children, their children, ...)."""
    table = processes()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, (ppid, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    table = processes()
    return {p for p in pids if p in table and table[p][1] != "Z"}


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def reap(pids: set[int], grace: float = 10) -> set[int]:
    """Wait up to ``grace`` s for ``pids`` to exit, then SIGKILL the rest; returns those killed."""
    deadline = time.monotonic() + grace
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    stragglers = alive(pids)
    for pid in stragglers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return stragglers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(base: Path) -> dict[str, str]:
    """Environment with HOME, Jupyter and IPython state under ``base`` (created)."""
    dirs = {name: base / name for name in
            ("home", "jupyter-config", "jupyter-data", "jupyter-runtime", "ipython")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(HOME=str(dirs["home"]), JUPYTER_CONFIG_DIR=str(dirs["jupyter-config"]),
               JUPYTER_DATA_DIR=str(dirs["jupyter-data"]),
               JUPYTER_RUNTIME_DIR=str(dirs["jupyter-runtime"]),
               IPYTHONDIR=str(dirs["ipython"]), JUPYTER_PLATFORM_DIRS="1",
               PYTHONUNBUFFERED="1")
    return env


@dataclass
class JupyterLab:
    """A JupyterLab server on a free 127.0.0.1 port, serving ``root``."""
    base: Path
    root: Path = field(init=False)
    port: int = field(init=False, default=0)
    token: str = field(init=False, default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen | None = field(init=False, default=None)
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = self.base / "notebooks"
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_path = self.base / "jupyterlab.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> "JupyterLab":
        env = isolated_env(self.base)
        settings = self.base / "lab-user-settings"
        for rel, value in LAB_SETTINGS.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        workspaces = self.base / "lab-workspaces"
        workspaces.mkdir(exist_ok=True)
        self.port = free_port()
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
               "--ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
               "--ServerApp.open_browser=False", f"--ServerApp.token={self.token}",
               f"--ServerApp.root_dir={self.root}",
               "--ServerApp.disable_check_xsrf=False",
               f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={workspaces}",
               # window.jupyterapp: lets the test call Lab commands (run cells) directly
               "--LabApp.expose_app_in_browser=True",
               "--LabServerApp.extra_labextensions_path=[]",
               "--ServerApp.terminals_enabled=False"]
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=env, cwd=self.root, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.proc.returncode}):\n{self.log()}")
            try:
                r = requests.get(f"{self.url}/api/status", timeout=2,
                                 headers={"Authorization": f"token {self.token}"})
                if r.ok:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def lab_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?token={self.token}&reset"

    def shutdown_kernels(self) -> None:
        """Stop every kernel the server runs (best effort; the server stop kills the rest)."""
        headers = {"Authorization": f"token {self.token}"}
        try:
            for k in requests.get(f"{self.url}/api/kernels", headers=headers, timeout=5).json():
                requests.delete(f"{self.url}/api/kernels/{k['id']}", headers=headers, timeout=10)
        except (requests.RequestException, ValueError):
            pass

    def stop(self) -> None:
        """Stop the server and everything in its process group (kernels included)."""
        if self.proc is None:
            return
        # kernels run in sessions of their own: remember the whole tree before stopping
        tree = {self.proc.pid} | descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.shutdown_kernels()
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        reap(tree)
        self.proc = None


@dataclass
class Browser:
    """Headless Chromium (Debian's binary) through Playwright, profile under ``base``."""
    base: Path
    _pw: object = field(init=False, default=None)
    _driver: set = field(init=False, default_factory=set)
    context: object = field(init=False, default=None)

    def start(self) -> "Browser":
        from playwright.sync_api import sync_playwright
        if not Path(CHROMIUM).exists():
            raise RuntimeError(f"{CHROMIUM} not found: run `bash scripts/setup-tests.sh` "
                               "(installs Debian's chromium)")
        profile = self.base / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        before = descendants(os.getpid())
        self._pw = sync_playwright().start()
        # Playwright's driver (node) is our child; the browser runs below it
        self._driver = {p for p in descendants(os.getpid()) - before if "playwright" in cmdline(p)}
        try:
            self.context = self._pw.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1200, "height": 900},
                env={**isolated_env(self.base), "HOME": str(self.base / "home")})
        except Exception:
            self._pw.stop()
            raise
        return self

    def new_page(self):
        return self.context.new_page()

    def stop(self) -> None:
        """Close the browser and the driver, then make sure none of their processes survive."""
        tree = set(self._driver).union(*(descendants(p) for p in self._driver))
        try:
            if self.context is not None:
                self.context.close()
                self.context = None
        finally:
            if self._pw is not None:
                self._pw.stop()
                self._pw = None
            reap(tree)


def temp_base(prefix: str) -> Path:
    import tempfile
    return Path(tempfile.mkdtemp(prefix=prefix))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# -- driving a notebook in the page ------------------------------------------------------

_CURRENT = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
_KERNEL = (f"{_CURRENT} && window.jupyterapp.shell.currentWidget.sessionContext"
           " && window.jupyterapp.shell.currentWidget.sessionContext.session"
           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel")


def open_notebook(page, lab: JupyterLab, name: str, timeout: float = 90) -> None:
    """Open ``name`` (relative to the Lab root) and wait until its kernel is idle."""
    page.goto(lab.lab_url(name))
    page.wait_for_function(f"{_KERNEL} && {_KERNEL}.status === 'idle'",
                           timeout=timeout * 1000)


def lab_command(page, command: str, args: dict | None = None) -> None:
    """Start a JupyterLab command (e.g. ``notebook:run-all-cells``) in the page, without waiting
    for it: a run command only settles when its cells finish, and a test may need to click in
    the page meanwhile (a Kill button). ``wait_idle`` waits for started commands to settle."""
    page.evaluate(
        """([c, a]) => {
             window.__kmPending = (window.__kmPending || 0) + 1;
             window.jupyterapp.commands.execute(c, a).finally(() => { window.__kmPending -= 1; });
           }""", [command, args or {}])


def select_cell(page, index: int) -> None:
    """Make cell ``index`` of the current notebook the active one."""
    page.evaluate("i => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = i; }",
                  index)


def wait_idle(page, timeout: float = 120) -> None:
    """Wait until the commands ``lab_command`` started have settled, no cell is queued or
    running, and the kernel is idle."""
    page.wait_for_function(
        f"!(window.__kmPending > 0) && {_KERNEL} && {_KERNEL}.status === 'idle' && "
        "!Array.from(document.querySelectorAll('.jp-InputArea-prompt'))"
        ".some(p => p.textContent.includes('*'))",
        timeout=timeout * 1000)


def write_notebook(root: Path, name: str, cells: list[str]) -> str:
    """Write a notebook of code cells ``cells`` under ``root`` (the Lab's root); returns its name."""
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / name)
    return name


def cell_index(page, needle: str) -> int:
    """Index of the first code cell of the open notebook whose source contains ``needle``."""
    return page.evaluate(
        """needle => window.jupyterapp.shell.currentWidget.content.widgets
             .findIndex(c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(needle))""",
        needle)


def run_cell(page, index: int) -> None:
    """Start running cell ``index`` (without waiting: see ``lab_command``)."""
    select_cell(page, index)
    lab_command(page, "notebook:run-cell")
