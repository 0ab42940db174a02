"""The Run: km.run and %kestra_run share it; every method that talks to the server raises a typed
error when it cannot (never ``{}`` or an empty frame); km.start_sandbox serves scripts and magics."""
from __future__ import annotations

import pytest

import kestra_magic as km
from kestra_magic.config import Configuration
from kestra_magic.errors import KestraConnectionError, KestraError, KestraNotFound
from kestra_magic.runs import ExecutionFailed, KestraClient, Run

from .helpers import PAUSING

OUT_FLOW = """id: outs
namespace: {ns}
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello {{{{ inputs.name }}}}"
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    runIf: "{{{{ inputs.name == 'boom' }}}}"
    errorMessage: the data is bad
outputs:
  - id: greeting
    type: STRING
    value: "hello {{{{ inputs.name }}}}"
"""


@pytest.fixture
def shared(sandbox):
    c = km.configure(url=sandbox.url)
    yield c
    km.configure(reset=True)


def test_km_run_and_the_magic_return_the_same_class():
    import kestra_magic.handle as handle
    assert km.Run is Run and km.ExecutionHandle is Run and handle.ExecutionHandle is Run


def test_a_script_runs_waits_and_reads(shared, ns):
    shared.flows.create_flow(OUT_FLOW.format(ns=ns))
    run = km.run(f"{ns}.outs", inputs={"name": "Ada"})
    assert isinstance(run, Run) and run is km.last_run() and run.state == "SUCCESS" and run.is_terminal
    assert run.outputs == {"greeting": "hello Ada"}
    assert run.task_runs["taskId"].tolist()[0] == "say"
    assert "hello Ada" in run.logs()["message"].tolist()
    assert repr(run) == f"<Run {ns}.outs {run.id} SUCCESS>" and 'data-state="SUCCESS"' in run._repr_html_()
    again = km.attach(run.id)
    assert again.id == run.id and again.state == "SUCCESS" and km.last_run() is run   # attaching starts nothing
    with pytest.raises(ExecutionFailed) as err:
        km.run(f"{ns}.outs", inputs={"name": "boom"})
    failed = km.last_run()
    assert err.value.run is failed and failed.state == "FAILED" and "at task fail: the data is bad" in str(err.value)
    quiet = km.run(f"{ns}.outs", inputs={"name": "boom"}, raise_on_failure=False)
    assert quiet.state == "FAILED" and quiet is km.last_run()
    later = km.run(f"{ns}.outs", wait=False)
    assert later.wait(timeout=15).state == "SUCCESS"
    replayed = later.replay()
    assert replayed.id != later.id and km.last_run() is replayed and replayed.wait(15).state == "SUCCESS"


def test_bad_flow_names_fail_before_any_request(shared):
    with pytest.raises(ValueError, match="NAMESPACE.FLOW_ID"):
        km.run("nodot")
    with pytest.raises(ValueError, match="timeout must be a positive"):
        km.run("a.b", timeout=0)
    with pytest.raises(KestraNotFound):
        km.attach("doesNotExist000000000")


def test_every_run_method_raises_typed_errors_when_the_server_is_stopped(ns):
    from kestra_magic.sandbox import Sandbox
    sb = Sandbox(api=2).start()
    c = KestraClient(Configuration(**sb.client_settings(), retries=0, connect_timeout=2, read_timeout=5))
    try:
        c.flows.create_flow(PAUSING.format(ns=ns))
        c.flows.create_flow(OUT_FLOW.format(ns=ns))
        paused = c.run(f"{ns}.pausing", wait=False)
        for _ in range(100):
            if paused.refresh().state == "PAUSED":
                break
            __import__("time").sleep(0.05)
        done = c.run(f"{ns}.outs", inputs={"name": "boom"}, raise_on_failure=False)
        assert paused.state == "PAUSED" and done.state == "FAILED"
    finally:
        sb.stop()
    calls = {
        "refresh": lambda r: r.refresh(), "wait": lambda r: r.wait(timeout=3, poll_interval=0.2),
        "kill": lambda r: r.kill(), "pause": lambda r: r.pause(), "resume": lambda r: r.resume(),
        "restart": lambda r: r.restart(), "replay": lambda r: r.replay(),
        "pause_inputs": lambda r: r.pause_inputs(), "outputs": lambda r: r.outputs,
        "task_runs": lambda r: r.task_runs, "task_outputs": lambda r: r.task_outputs,
        "logs": lambda r: r.logs(), "read": lambda r: r.read("data.csv"),
        "timeline": lambda r: r.timeline(engine="svg"),
    }
    for name, call in calls.items():
        with pytest.raises(KestraConnectionError):
            call(paused)
    for name in ("outputs", "task_outputs", "logs", "read", "restart", "replay"):   # a finished run too
        with pytest.raises(KestraConnectionError):
            calls[name](done)
    with pytest.raises(KestraError):           # the failure line reads the error log
        done.raise_for_outcome()
    c.close()


def test_start_sandbox_configures_the_shared_client_and_is_reused(ns):
    try:
        sb = km.start_sandbox(api=1)
        assert km.client().url == sb.url and km.client().generation == 1
        assert km.start_sandbox(api=1) is sb
        km.client().flows.create_flow(OUT_FLOW.format(ns=ns))
        assert km.run(f"{ns}.outs").outputs == {"greeting": "hello world"}
        sb2 = km.start_sandbox(api=2, username="admin@kestra.io", password="Sandbox-Pw-42")
        assert sb2 is not sb and km.client().generation == 2
        assert km.client().configuration.username == "admin@kestra.io"
        assert "Sandbox-Pw-42" not in repr(km.client())
    finally:
        if km._sandbox is not None:
            km._sandbox.stop()
            km._sandbox = None
        km.configure(reset=True)


SLEEPY = """id: sleepy
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT60S
"""


@pytest.mark.parametrize("kill", [False, True], ids=["detach", "kill_on_interrupt"])
def test_ctrl_c_stops_a_script_waiting_within_a_second(c2, ns, kill):
    import signal
    import threading
    import time
    c2.flows.create_flow(SLEEPY.format(ns=ns))
    main = threading.main_thread().ident
    timer = threading.Timer(0.5, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        c2.run(f"{ns}.sleepy", kill_on_interrupt=kill)
    assert time.monotonic() - t0 < 1.5
    run = km.last_run()
    if kill:   # the kill was asked before the interrupt went on
        assert run.wait(timeout=15).state == "KILLED"
    else:      # detached: the run goes on
        assert run.refresh().state == "RUNNING"
        run.kill()
