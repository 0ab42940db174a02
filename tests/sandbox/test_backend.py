"""The backend without HTTP: one object over the store and the engine that owns the rules and
raises domain errors (the routes only map them to the generation's body)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from kestra_magic.sandbox import backend as domain
from kestra_magic.sandbox import flows as flowsmod
from kestra_magic.sandbox.backend import Backend
from kestra_magic.sandbox.engine import Engine
from kestra_magic.sandbox.inputs import Resolved
from kestra_magic.sandbox.store import Store

SLEEP = """
id: slow
namespace: test.backend
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
"""
HELLO = """
id: hello
namespace: test.backend
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


@pytest.fixture
def backend():
    store = Store(2)
    engine = Engine(store)
    yield Backend(store, engine, 2)
    engine.shutdown()
    store.close()


def _flow(backend, source):
    source = textwrap.dedent(source).strip() + "\n"
    return backend.create_flow(flowsmod.parse(source), source)


def _run(backend, flow) -> dict:
    execution_id = backend.new_execution_id()
    return backend.create_execution(flow, execution_id, Resolved(), backend.create_labels(flow, [], execution_id))


def test_create_answers_created_then_runs(backend):
    flow = _flow(backend, HELLO)
    created = _run(backend, flow)
    assert created["state"]["current"] == "CREATED" and len(created["state"]["histories"]) == 1
    final = backend.wait_for_end(created["id"], timeout=30)
    assert final["state"]["current"] == "SUCCESS"
    assert {lb["key"] for lb in final["labels"]} >= {"system.correlationId", "system.from"}


def test_wrong_state_rules_raise_domain_errors(backend):
    flow = _flow(backend, SLEEP)
    running = _run(backend, flow)["id"]
    backend.wait_until(running, lambda e: e["state"]["current"] == "RUNNING")
    with pytest.raises(domain.Conflict, match="expected a terminated"):
        backend.change_status(running, "SUCCESS")
    with pytest.raises(domain.Conflict, match="expected terminated or paused"):
        backend.restart(running)
    with pytest.raises(domain.Conflict, match="is not paused"):
        backend.resume(running, {})
    with pytest.raises(domain.Conflict, match="not queued"):
        backend.unqueue(running, "RUNNING")
    with pytest.raises(domain.NotApplicable, match="not terminated"):
        backend.set_labels(running, [{"key": "a", "value": "b"}])
    with pytest.raises(domain.Invalid, match="use a terminated state"):
        backend.change_status(running, "RUNNING")       # the target is checked first
    with pytest.raises(domain.BulkInvalid) as bulk:
        backend.bulk_rule("change-status", target="SUCCESS").by_ids([running, "nope"])
    assert [i["invalidValue"] for i in bulk.value.invalids] == [running, "nope"]
    assert backend.kill(running) is True
    killed = backend.wait_until(running, lambda e: e["state"]["current"] == "KILLED")
    assert killed["state"]["current"] == "KILLED"
    assert backend.kill(running) is False                 # finished: nothing to do
    with pytest.raises(domain.Conflict, match="already finished"):
        backend.kill(running, cascade=False)
    with pytest.raises(domain.Conflict):                    # KILLED cannot be changed
        backend.change_status(running, "SUCCESS")
    with pytest.raises(domain.Invalid, match="System labels"):
        backend.bulk_rule("labels", labels=[{"key": "system.x", "value": "1"}])
    with pytest.raises(domain.NotFound):
        backend.execution("missing")


def test_flow_rules(backend):
    _flow(backend, HELLO)
    with pytest.raises(domain.AlreadyExists):
        _flow(backend, HELLO)
    with pytest.raises(domain.Invalid) as bad:
        _flow(backend, "id: bad\nnamespace: test.backend\ntasks:\n  - id: x\n    type: io.kestra.nope\n")
    assert bad.value.errors
    assert backend.set_flows("disable", [("test.backend", "hello")]) == 1
    with pytest.raises(domain.Conflict, match="disabled"):
        backend.executable_flow("test.backend", "hello")


def test_a_broken_engine_fails_loudly():
    """No engine-less mode: a sandbox whose engine cannot be imported does not start at all."""
    code = ("import sys; sys.modules['kestra_magic.sandbox.engine'] = None\n"
            "from kestra_magic.sandbox import Sandbox\nSandbox(auth=False).start()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "import of kestra_magic.sandbox.engine halted" in proc.stderr
