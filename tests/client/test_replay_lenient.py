"""Leniency: whatever type a field arrives as (null, omitted, a future shape), the models parse
without raising and keep the raw dict, so one odd field never hides a whole execution."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from kestra_magic.models import Execution, Flow, LogEntry, State, TaskRun
from tests.client.replays.server import load

ANY = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                   lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                   max_leaves=4)

EXECUTION = load("v1/execution_full.json")
FLOW = load("v1/flow_with_source.json")
LOG = load("v1/logs.json")[0]


def _mutate(base: dict, data) -> dict:
    body = dict(base)
    for key in data.draw(st.lists(st.sampled_from(sorted(base)), max_size=4, unique=True)):
        if data.draw(st.booleans()):
            body.pop(key)
        else:
            body[key] = data.draw(ANY)
    return body


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_models_never_raise_on_odd_field_types(data):
    ex = _mutate(EXECUTION, data)
    tr = _mutate(EXECUTION["taskRunList"][1], data)
    state = _mutate(EXECUTION["state"], data)
    ex["taskRunList"] = [tr]
    ex["state"] = state
    e = Execution.from_dict(ex)
    assert e.raw is ex and isinstance(e.labels, dict) and isinstance(e.inputs, dict)
    assert isinstance(e.state, State) and isinstance(e.task_runs[0], TaskRun)
    assert e.state.is_terminal in (True, False) and isinstance(e.task_runs[0].attempts, list)
    f = Flow.from_dict(_mutate(FLOW, data))
    assert isinstance(f.labels, dict) and isinstance(f.tasks, list) and isinstance(f.inputs, list)
    entry = LogEntry.from_dict(_mutate(LOG, data))
    assert isinstance(entry.raw, dict)
    for odd in (None, [], "x", 3, [1, 2]):
        assert Execution.from_dict(odd).id is None and State.from_dict(odd).current is None


def test_paged_results_parse_leniently():
    from kestra_magic.models import Page
    ex = load("v2/search_light.json")
    assert Page.from_body(ex, Execution.from_dict).total == 57
    assert Page.from_body({**ex, "total": "57"}, Execution.from_dict).total == 57
    no_total = Page.from_body({"results": ex["results"]}, Execution.from_dict)
    assert no_total.total == 2 and no_total[1].state.current == "QUEUED"
    assert len(Page.from_body({"results": None, "total": None}, Execution.from_dict)) == 0
    assert Page.from_body(None, Flow.from_dict).total == 0
    assert Page.from_body({"results": [{}], "total": "many"}, Flow.from_dict).total == 1
