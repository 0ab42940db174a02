"""The parts of the transport one by one: operation descriptors (checked against Kestra's own
OpenAPI specs), the retry policy and the response hooks (fed real answers and real exceptions
from the sandbox and its fault injector over HTTP)."""
from __future__ import annotations

import re
import socket
import time

import pytest
import requests

from kestra_magic import errors, operations
from kestra_magic.compat import ServerGeneration
from kestra_magic.config import OPERATIONS, Configuration
from kestra_magic.runs import KestraClient
from kestra_magic.transport.call import Call
from kestra_magic.transport.hooks import GenerationCheck, NotFoundGrace
from kestra_magic.transport.retry import RetryPolicy, retry_after, was_sent
from tests.client.test_replay_openapi import KNOWN_MISSING, find_operation

GET_FLOW = operations.get("FlowsAPIService.GetFlow")
CREATE = operations.get("ExecutionsAPIService.CreateExecution")
#: the 2.x open login route has no 1.x counterpart (probed on both, answered 401/404 by 1.x)
NOT_ON_1X = {("GET", "/api/v1/configs/login")}
#: operations of the kestra-magic sandbox only (Kestra answers 404; the client then uses Kestra's UI link)
SANDBOX_ONLY = {"SandboxAPIService.CreateUiLink"}


# -- descriptors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("generation", [1, 2])
def test_every_descriptor_is_an_operation_of_its_generations_spec(generation):
    for op in operations.OPERATIONS.values():
        if op.name in SANDBOX_ONLY:
            continue
        for legacy in (False, True):
            template = (op.legacy if legacy else op.paths).get(generation)
            if template is None:
                continue
            path = template if template.startswith("/") else f"/api/v1/{{tenant}}/{template}"
            if (op.method, path) in KNOWN_MISSING[generation] or (generation == 1 and (op.method, path) in NOT_ON_1X):
                continue
            concrete = re.sub(r"\{(\w+)\}", lambda m: "main" if m.group(1) == "tenant" else "X1", path)
            found, spec_op = find_operation(generation, op.method, concrete)
            assert spec_op is not None, f"{op.name}: {op.method} {path} is not in the {generation}.x spec"
            operation_id = spec_op["operationId"].lower()
            nickname = op.nickname.lower()
            assert operation_id in (nickname, nickname.removeprefix("get")), (op.name, operation_id)


def test_descriptors_say_what_may_be_sent_again():
    creates = {n for n, op in operations.OPERATIONS.items() if op.creates}
    assert creates == {"FlowsAPIService.CreateFlow", "ExecutionsAPIService.CreateExecution",
                       "ExecutionsAPIService.RestartExecution", "ExecutionsAPIService.ReplayExecution"}
    assert not any(operations.get(n).safe for n in creates)
    assert operations.get("FlowsAPIService.ValidateFlows").safe          # a POST that changes nothing
    assert not operations.get("ExecutionsAPIService.ResumeExecution").safe
    assert operations.get("ExecutionsAPIService.DeleteExecution").safe
    assert set(OPERATIONS) == set(operations.OPERATIONS)                 # the keys servers= accepts
    assert not GET_FLOW.varies and operations.get("ExecutionsAPIService.KillExecution").varies
    assert operations.get("OutputsAPIService.GetExecutionOutputs").varies   # 2.x only


# -- retry policy -----------------------------------------------------------------------------------
@pytest.fixture
def flow_url(sandbox, ns):
    requests.post(f"{sandbox.url}/api/v1/main/flows", timeout=5, headers={"Content-Type": "application/x-yaml"},
                  data=f"id: f\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n"
                       f"    message: hi\n").raise_for_status()
    yield f"{sandbox.url}/api/v1/main/flows/{ns}/f"
    sandbox.faults.clear()


def test_retry_policy_on_real_answers(sandbox, flow_url):
    policy = RetryPolicy(retries=2, backoff=0.5, max_backoff=4.0)
    sandbox.faults.fail(503, times=1, path=r"/flows/.*/f$", headers={"Retry-After": "3"})
    sandbox.faults.fail(502, times=1, path=r"/flows/.*/f$")
    sandbox.faults.fail(429, times=1, path=r"/flows/.*/f$", headers={"Retry-After": "60"})
    sandbox.faults.fail(500, times=1, path=r"/flows/.*/f$")
    r503, r502, r429, r500 = (requests.get(flow_url, timeout=5) for _ in range(4))
    assert policy.delay_after_response(r503, GET_FLOW) == 3.0                   # Retry-After honoured
    assert policy.delay_after_response(r503, CREATE) is None                    # never a create on 5xx
    assert policy.delay_after_response(r502, GET_FLOW) == 0.5                   # backoff * 2**0
    assert policy.increment().delay_after_response(r502, GET_FLOW) == 1.0       # backoff * 2**1
    assert policy.delay_after_response(r429, CREATE) == 4.0                     # 429: not processed; capped
    assert policy.delay_after_response(r500, GET_FLOW) is None                  # a real failure
    assert policy.increment().increment().delay_after_response(r502, GET_FLOW) is None   # exhausted
    assert retry_after(r429) == 60.0 and retry_after(r500) is None
    assert policy.delay_after_response(requests.get(flow_url, timeout=5), GET_FLOW) is None   # 200


def test_retry_policy_on_real_exceptions(sandbox, flow_url):
    policy = RetryPolicy(retries=1, backoff=0.25, max_backoff=1.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(requests.ConnectionError) as refused:
        requests.post(f"http://127.0.0.1:{port}/api/v1/main/executions/a/b", timeout=2)
    assert not was_sent(refused.value)
    assert policy.delay_after_error(refused.value, CREATE) == 0.25       # never left: even a create

    sandbox.faults.drop(times=1, path=r"/flows/.*/f$", after_handling=True)
    with pytest.raises(requests.ConnectionError) as dropped:
        requests.get(flow_url, timeout=5)
    assert was_sent(dropped.value)
    assert policy.delay_after_error(dropped.value, GET_FLOW) == 0.25     # a safe call: again
    assert policy.delay_after_error(dropped.value, CREATE) is None       # may have arrived: never
    assert policy.increment().delay_after_error(dropped.value, GET_FLOW) is None

    sandbox.faults.latency(0.5)
    with pytest.raises(requests.ReadTimeout) as slow:
        requests.get(flow_url, timeout=(2, 0.1))
    assert policy.delay_after_error(slow.value, GET_FLOW) is None        # alive but slow: not again


def test_the_client_uses_the_configured_policy(sandbox):
    c = KestraClient(Configuration(url=sandbox.url, retries=5, backoff=0.01, max_backoff=0.2))
    assert c._transport.retry == RetryPolicy(retries=5, backoff=0.01, max_backoff=0.2)


# -- hooks ------------------------------------------------------------------------------------------
def _call(op=GET_FLOW, **kw) -> Call:
    return Call(op, "http://k", "/api/v1/main/flows/a/b", "flow a.b", (1.0, 1.0), **kw)


def test_not_found_grace_only_for_what_this_client_created(sandbox, flow_url):
    grace = NotFoundGrace(lambda: 5.0)
    assert grace.window(("flow", "a", "b")) == 0.0
    grace.mark(("flow", "a", "b"))
    assert 4.5 < grace.window(("flow", "a", "b")) <= 5.0
    sandbox.faults.fail(404, times=4, path=r"/flows/.*/f$")
    call = _call(grace_until=time.monotonic() + 5.0)
    delays = [grace(requests.get(flow_url, timeout=5), call) for _ in range(4)]
    assert delays == [0.1, 0.2, 0.4, 0.8]
    assert grace(requests.get(flow_url, timeout=5), call) is None          # a 200 passes through
    sandbox.faults.fail(404, times=1, path=r"/flows/.*/f$")
    assert grace(requests.get(flow_url, timeout=5), _call()) is None        # no window: a 404 is a 404
    grace.forget(("flow", "a", "b"))
    assert grace.window(("flow", "a", "b")) == 0.0


def test_generation_check_turns_a_404_into_the_fix(sandbox, flow_url):
    wrong = 2 if sandbox.generation == 1 else 1
    c = KestraClient(Configuration(url=sandbox.url, api_generation=wrong))
    check = GenerationCheck(c._transport.server)
    assert check(requests.get(flow_url, timeout=5), _call()) is None         # a 200: nothing to check
    sandbox.faults.fail(404, times=1, path=r"/flows/.*/f$")
    with pytest.raises(errors.KestraConfigError, match=f"speaks Kestra API {sandbox.generation}.x"):
        check(requests.get(flow_url, timeout=5), _call())
    right = KestraClient(Configuration(url=sandbox.url, api_generation=sandbox.generation))
    sandbox.faults.fail(404, times=1, path=r"/flows/.*/f$")
    assert GenerationCheck(right._transport.server)(requests.get(flow_url, timeout=5), _call()) is None
    detected = ServerGeneration(None, right._transport.probe, has_credentials=False, where=lambda: sandbox.url)
    sandbox.faults.fail(404, times=1, path=r"/flows/.*/f$")
    assert GenerationCheck(detected)(requests.get(flow_url, timeout=5), _call()) is None   # nothing configured
    assert detected.generation == sandbox.generation
