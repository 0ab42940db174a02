"""One place decides the generation: detection, a configured ``api_generation`` checked against
the server before calls that a wrong one would answer wrongly without an error, and the same
shapes on both generations. Against the sandbox of each generation over real HTTP."""
from __future__ import annotations

import pytest

from kestra_magic.config import Configuration
from kestra_magic.errors import KestraConfigError
from kestra_magic.models import Execution
from kestra_magic.runs import KestraClient
from tests.client.conftest import INPUTS_FLOW, PAUSE_FLOW, flow_source, requests_to, wait_terminal


@pytest.fixture
def finished(client, ns):
    """A finished execution of INPUTS_FLOW (task `ret` has outputs, logs at INFO and WARN)."""
    client.flows.create_flow(flow_source(INPUTS_FLOW, ns))
    return client.executions.create_execution(ns, "f", inputs={"n": 4}, wait=True)


def _wrong(sandbox) -> KestraClient:
    return KestraClient(Configuration(url=sandbox.url, api_generation=2 if sandbox.generation == 1 else 1))


@pytest.mark.parametrize("call", ["task_outputs", "flow_outputs", "min_level", "task_id", "download_format"])
def test_a_wrong_configured_generation_is_a_config_error_not_a_silent_answer(sandbox, finished, call):
    """Forced to 1.x against 2.x, task outputs read from the slim execution came back empty and the
    flat log filters were ignored (all levels); forced to 2.x against 1.x the filters[...] were."""
    c = _wrong(sandbox)
    calls = {
        "task_outputs": lambda: c.executions.task_outputs(finished.id),
        "flow_outputs": lambda: c.executions.flow_outputs(finished.id),
        "min_level": lambda: c.logs.list_logs(finished.id, min_level="WARN"),
        "task_id": lambda: c.logs.download_logs(finished.id, task_id="warn"),
        "download_format": lambda: c.executions.download_file(finished.id, finished.inputs.get("data") or
                                                              "kestra:///x", format="JSONL"),
    }
    since = len(sandbox.requests)
    with pytest.raises(KestraConfigError) as info:
        calls[call]()
    message = str(info.value)
    assert f"speaks Kestra API {sandbox.generation}.x" in message and "api_generation" in message
    assert "\n" not in message
    # nothing was sent but the check itself: no wrong answer was read
    assert all("/configs" in r.path for r in sandbox.requests[since:])
    with pytest.raises(KestraConfigError):   # decided once, said every time
        calls[call]()


def test_the_check_is_one_probe_and_only_when_needed(sandbox, finished):
    c = _wrong(sandbox)
    since = len(sandbox.requests)
    assert c.executions.get_execution(finished.id).id == finished.id    # same on both: no check
    assert [r.path for r in sandbox.requests[since:] if "/configs" in r.path] == []
    for _ in range(2):
        with pytest.raises(KestraConfigError):
            c.logs.list_logs(finished.id, min_level="WARN")
    assert len([r for r in sandbox.requests[since:] if "/configs" in r.path]) == 1


def test_a_right_configured_generation_reads_the_same_as_detection(client, sandbox, finished):
    forced = KestraClient(Configuration(url=sandbox.url, api_generation=sandbox.generation))
    assert forced.executions.task_outputs(finished.id) == client.executions.task_outputs(finished.id)
    assert [o["taskId"] for o in forced.executions.task_outputs(finished.id)] == ["ret"]
    warn = forced.logs.list_logs(finished.id, min_level="WARN")
    assert [e.level for e in warn] == ["WARN"] and warn == client.logs.list_logs(finished.id, min_level="WARN")


def test_with_the_probes_blocked_a_configured_generation_is_trusted(sandbox, finished):
    """An override often exists because the probe routes are blocked: only a definite answer
    contradicts it, so the calls go on and are read with the configured generation."""
    sandbox.faults.fail(404, times=10, path=r"^/api/v1/configs")
    try:
        c = KestraClient(Configuration(url=sandbox.url, api_generation=sandbox.generation))
        assert [e.level for e in c.logs.list_logs(finished.id, min_level="WARN")] == ["WARN"]
        assert [o["outputs"] for o in c.executions.task_outputs(finished.id)] == [{"value": "n=4"}]
    finally:
        sandbox.faults.clear()


def test_actions_return_the_execution_on_both_generations(client, sandbox, ns):
    """kill/pause/resume: 1.x answers an empty 202/204 and the execution is read back once; 2.x
    answers with it. Either way the caller gets an Execution."""
    client.flows.create_flow(flow_source(PAUSE_FLOW, ns))
    e = client.executions.create_execution(ns, "f")
    wait_terminal(client, e.id, states={"PAUSED"})
    since = len(sandbox.requests)
    resumed = client.executions.resume_execution(e.id)
    assert type(resumed) is Execution and resumed.id == e.id and resumed.flow_id == "f"
    reads = requests_to(sandbox, "GET", f"/executions/{e.id}", since)
    assert len(reads) == (1 if sandbox.generation == 1 else 0)
    assert wait_terminal(client, e.id).state.current == "SUCCESS"


def test_only_compat_branches_on_the_generation():
    """design.md: every 1.x/2.x difference lives in compat.py. No other client module compares a
    generation with 1 or 2 (the sandbox, a server of either generation, is apart)."""
    import ast
    from pathlib import Path

    import kestra_magic
    root = Path(kestra_magic.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel == "compat.py" or rel.startswith("sandbox/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), rel)):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            named = any((isinstance(s, ast.Attribute) and "generation" in s.attr)
                        or (isinstance(s, ast.Name) and "generation" in s.id) for s in sides)
            literal = any(isinstance(s, ast.Constant) and s.value in (1, 2) for s in sides)
            if named and literal:
                found.append(f"{rel}:{node.lineno}")
    assert found == [], f"generation branches outside compat.py: {found}"
