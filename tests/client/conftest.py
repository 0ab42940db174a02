"""Fixtures for the client tests: flows on the sandbox, helper servers (recorder, proxy)."""
from __future__ import annotations

import time

import pytest

from tests.client.servers import ForwardProxy, Recorder

INPUTS_FLOW = """\
id: {id}
namespace: {ns}
labels:
  owner: tests
inputs:
  - id: name
    type: STRING
    defaults: world
  - id: n
    type: INT
    defaults: 1
  - id: flag
    type: BOOL
    defaults: false
  - id: cfg
    type: JSON
    required: false
  - id: data
    type: FILE
    required: false
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello {{{{ inputs.name }}}}"
  - id: warn
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: "careful {{{{ inputs.n }}}}"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "n={{{{ inputs.n }}}}"
outputs:
  - id: result
    type: STRING
    value: "{{{{ outputs.ret.value }}}}"
"""

SLEEP_FLOW = """\
id: {id}
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT{seconds}S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: woke up
"""

PAUSE_FLOW = """\
id: {id}
namespace: {ns}
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: resumed
"""

FAIL_FLOW = """\
id: {id}
namespace: {ns}
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: planned failure
"""


def flow_source(template: str, ns: str, id: str = "f", **fmt) -> str:
    return template.format(ns=ns, id=id, **fmt)


def wait_terminal(client, execution_id: str, timeout: float = 20.0, states=None):
    """Poll until the execution is terminal (or in one of ``states``)."""
    deadline = time.monotonic() + timeout
    while True:
        e = client.executions.get_execution(execution_id)
        if (states and e.state.current in states) or (not states and e.state.is_terminal):
            return e
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {execution_id} still {e.state.current} after {timeout}s")
        time.sleep(0.05)


def requests_to(sb, method: str, path_part: str, since: int = 0):
    return [r for r in sb.requests[since:] if r.method == method and path_part in r.path]


@pytest.fixture
def inputs_flow(client, ns):
    return client.flows.create_flow(flow_source(INPUTS_FLOW, ns))


@pytest.fixture
def recorder():
    with Recorder() as rec:
        yield rec


@pytest.fixture
def proxy():
    with ForwardProxy() as p:
        yield p
