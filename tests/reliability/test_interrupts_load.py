"""Interrupts and load: a kernel interrupt (SIGINT delivered to the main thread, as Jupyter's
interrupt does) during a wait or a download returns control within a second, leaves no thread
running and the execution in the state the user chose; following 20 executions at once keeps
memory bounded and loses no final state."""
from __future__ import annotations

import os
import signal
import threading
import time
import tracemalloc

import pytest

from tests.reliability.conftest import make_client
from tests.reliability.helpers import SLEEP_FLOW_YAML, create_flow

LONG = "PT30S"


def interrupt_main_after(seconds: float) -> threading.Timer:
    """SIGINT to the main thread after ``seconds`` (wakes blocking socket reads like a real Ctrl-C)."""
    main = threading.main_thread().ident
    t = threading.Timer(seconds, lambda: signal.pthread_kill(main, signal.SIGINT))
    t.daemon = True
    t.start()
    return t


class RepeatedInterrupts:
    """SIGINT to the main thread after ``first`` seconds, then every ``every`` seconds until stopped.

    CPython swallows a KeyboardInterrupt that lands inside a weakref callback or ``__del__``
    ("Exception ignored in ..."), which threads finishing in a pool trigger constantly; a user
    then presses Ctrl-C again. Stopping ignores SIGINT until the repeater has ended, so no late
    signal escapes into the test.
    """

    def __init__(self, first: float, every: float = 0.3):
        self._stop = threading.Event()
        main = threading.main_thread().ident

        def fire():
            if self._stop.wait(first):
                return
            while not self._stop.is_set():
                signal.pthread_kill(main, signal.SIGINT)
                if self._stop.wait(every):
                    return
        self._thread = threading.Thread(target=fire, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        self._stop.set()
        self._thread.join(2)
        time.sleep(0.05)
        signal.signal(signal.SIGINT, previous)


def _client_side(t: threading.Thread) -> bool:
    """A thread the client/notebook code started (the sandbox's server and engine threads are not)."""
    target = getattr(t, "_target", None)
    module = getattr(target, "__module__", "") or ""
    owner = getattr(getattr(target, "__self__", None), "__class__", None)
    module = getattr(owner, "__module__", module) if owner is not None else module
    if t.name.startswith("kestra-sweep"):
        return True
    return module.startswith("kestra_magic") and not module.startswith("kestra_magic.sandbox")


def our_threads(before: set = frozenset()) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.is_alive() and _client_side(t) and t.ident not in before]


@pytest.fixture(autouse=True)
def warm_imports():
    """Import the lazily imported modules first: an interrupt landing inside ``import pandas``
    leaves a half-initialised module behind (a Python hazard, not what these tests measure)."""
    import pandas  # noqa: F401
    import kestra_magic.handle  # noqa: F401
    import kestra_magic.follow  # noqa: F401
    import kestra_magic.notebook.magics  # noqa: F401
    import kestra_magic.notebook.widget  # noqa: F401
    import kestra_magic.sweep  # noqa: F401


@pytest.fixture
def before():
    """Client threads alive before the test (a failed earlier test must not fail this one)."""
    return {t.ident for t in our_threads()}


def threads_gone(before: set, within: float = 1.5) -> list[str]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not our_threads(before):
            return []
        time.sleep(0.05)
    return [t.name for t in our_threads(before)]


def state_on_server(sb, execution_id: str) -> str:
    with sb.store.lock:
        return sb.store.executions[execution_id]["state"]["current"]


def eventually_state(sb, execution_id: str, states: set, within: float = 5) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        s = state_on_server(sb, execution_id)
        if s in states:
            return s
        time.sleep(0.05)
    return state_on_server(sb, execution_id)


@pytest.fixture
def shell(ip, capsys, rsb):
    import kestra_magic
    from kestra_magic.config import Configuration
    kestra_magic.configure(make_client(rsb.url).configuration)
    yield ip
    capsys.readouterr()
    kestra_magic.configure(Configuration(url="http://127.0.0.1:9"))


@pytest.mark.parametrize("kill", [False, True], ids=["detach", "kill-on-interrupt"])
def test_interrupt_during_a_magic_wait(shell, rsb, ns, capsys, kill, before):
    flow = create_flow(rsb, ns, "long", SLEEP_FLOW_YAML, duration=LONG)
    timer = interrupt_main_after(0.8)
    t0 = time.monotonic()
    result = shell.run_cell(f"%kestra_run ex {ns}.{flow}" + (" --kill-on-interrupt" if kill else ""),
                            store_history=False)
    took = time.monotonic() - t0
    timer.cancel()
    printed = capsys.readouterr()
    assert not result.success, "an interrupted run must fail the cell"
    assert took < 0.8 + 1.0, f"control came back {took - 0.8:.2f} s after the interrupt"
    assert "Traceback" not in printed.out + printed.err
    ex_id = shell.user_ns["ex"].id
    assert threads_gone(before) == [], "a follower thread kept running after the interrupt"
    if kill:
        assert eventually_state(rsb, ex_id, {"KILLED"}) == "KILLED"
    else:   # detached: the run goes on, as the user chose
        assert state_on_server(rsb, ex_id) == "RUNNING"
        make_client(rsb.url).executions.kill_execution(ex_id)
    assert shell.run_cell("1 + 1", store_history=False).result == 2


def test_interrupt_during_handle_wait(rsb, ns, before):
    from kestra_magic.handle import ExecutionHandle
    flow = create_flow(rsb, ns, "long", SLEEP_FLOW_YAML, duration=LONG)
    c = make_client(rsb.url)
    h = ExecutionHandle(c, c.executions.create_execution(ns, flow))
    timer = interrupt_main_after(0.5)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        h.wait()
    assert time.monotonic() - t0 < 0.5 + 1.0
    timer.cancel()
    assert threads_gone(before) == []
    assert state_on_server(rsb, h.id) == "RUNNING"
    h.kill()
    assert eventually_state(rsb, h.id, {"KILLED"}) == "KILLED"


def test_interrupt_during_a_download(rsb, ns, before):
    c = make_client(rsb.url, read_timeout=30)
    create_flow(rsb, ns, "hello")
    ex = c.executions.create_execution(ns, "hello", wait=True)
    uri = f"kestra:///{ns.replace('.', '/')}/hello/executions/{ex.id}/tasks/hello/x/any.txt"
    rsb.faults.latency(5)   # the server takes its time: the client sits in a blocking read
    timer = interrupt_main_after(0.5)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        c.executions.download_file(ex.id, uri)
    took = time.monotonic() - t0
    timer.cancel()
    rsb.faults.latency(0)
    assert took < 0.5 + 1.0
    assert threads_gone(before) == []
    assert c.flows.get_flow(ns, "hello").id == "hello"   # the client still works


@pytest.fixture(params=[1, 2], ids=["api1", "api2"])
def sandbox_process(request):
    """A sandbox in its own process: tracemalloc then measures the client side only."""
    import subprocess
    import sys

    import requests
    from tests.reliability.helpers import free_port
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kestra_magic.sandbox", "--port", str(port),
                             "--api", str(request.param), "--no-auth"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(url + "/api/v1/configs", timeout=1)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline and proc.poll() is None, "the sandbox process did not start"
            time.sleep(0.1)

    class Remote:
        generation = request.param
        token = None
    Remote.url = url
    yield Remote
    proc.terminate()
    proc.wait(10)


def test_following_20_executions_at_once(sandbox_process, ns, before):
    """20 executions followed together (SSE + log tails, as the widget does): every final
    state arrives, memory stays bounded, and every follower thread ends."""
    from kestra_magic.follow import ExecutionFollower
    sb = sandbox_process
    loop, item = ("ForEach", "taskrun.value") if sb.generation == 1 else ("Loop", "item.value")
    create_flow(sb, ns, "chatty", f"""id: chatty
namespace: {ns}
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.{loop}
    values: [1, 2, 3, 4, 5, 6]
    tasks:
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "{{{{ {item} }}}} {"x" * 500}"
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.1S
""")
    c = make_client(sb.url)
    assert c.generation == sb.generation
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        created = [c.executions.create_execution(ns, "chatty") for _ in range(20)]
        followers = [ExecutionFollower(c, ex, poll_interval=0.5, log_lines=30).start() for ex in created]
        assert all(f.wait(60) for f in followers), "a follower never saw its execution end"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    finals = [f.latest.state.current for f in followers]
    on_server = [c.executions.get_execution(ex.id).state.current for ex in created]
    assert finals == on_server == ["SUCCESS"] * 20
    assert sum(f.log_count for f in followers) > 0 and all(len(f.logs) <= 30 for f in followers)
    assert peak - base < 12 * 2**20, f"following 20 executions peaked at {(peak - base) / 2**20:.1f} MiB"
    assert threads_gone(before, 3) == []


@pytest.mark.parametrize("phase", ["launching", "following"])
def test_interrupt_during_a_sweep(rsb, ns, before, phase):
    """Ctrl-C during a sweep: control returns within a second, no sweep thread keeps running,
    and no new execution is launched after the interrupt (the user chose to stop)."""
    from kestra_magic.sweep import sweep
    create_flow(rsb, ns, "nap", SLEEP_FLOW_YAML, duration="PT20S" if phase == "following" else "PT0.1S")
    c = make_client(rsb.url)
    assert c.generation == rsb.generation
    rows = [{"n": i} for i in range(40 if phase == "launching" else 4)]
    if phase == "launching":
        rsb.faults.latency(0.15)   # 40 creates through 2 workers take ~3 s
    interrupts = RepeatedInterrupts(0.8)
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            sweep(c, ns, "nap", rows, max_workers=2, poll_interval=0.2)
        took = time.monotonic() - t0
    finally:
        interrupts.stop()
    rsb.faults.latency(0)
    assert took < 0.8 + 1.0, f"control came back {took - 0.8:.2f} s after the interrupt"
    assert threads_gone(before) == []
    with rsb.store.lock:
        launched = [e["id"] for e in rsb.store.executions.values() if e.get("namespace") == ns]
    time.sleep(0.5)
    with rsb.store.lock:
        later = [e["id"] for e in rsb.store.executions.values() if e.get("namespace") == ns]
    assert later == launched, "executions were still being launched after the interrupt"
    if phase == "launching":
        assert len(launched) < len(rows)
    for ex_id in launched:
        try:
            c.executions.kill_execution(ex_id)
        except Exception:
            pass
