"""Sweeps against the sandbox: one execution per row, collected into a DataFrame; failures stay
in their own row."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kestra_magic.sweep import SWEEP_LABEL, SweepProgress, sweep

FLOW = """
id: sq
namespace: {ns}
inputs:
  - id: x
    type: INT
  - id: label
    type: STRING
    defaults: none
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ inputs.x == 13 }}}}"
    errorMessage: unlucky
  - id: calc
    type: io.kestra.plugin.core.output.OutputValues
    values:
      square: "{{{{ inputs.x * inputs.x }}}}"
outputs:
  - id: square
    type: INT
    value: "{{{{ outputs.calc.values.square }}}}"
  - id: label
    type: STRING
    value: "{{{{ inputs.label }}}}"
"""


def test_sweep_dataframe_rows_failures_and_progress(client, sandbox, ns):
    client.flows.create_flow(FLOW.format(ns=ns))
    rows = pd.DataFrame({"x": [*range(1, 11), 13, "abc"], "label": [f"r{i}" for i in range(11)] + [None]})
    seen: list[SweepProgress] = []
    df = sweep(client, ns, "sq", rows, max_workers=4, labels={"team": "ds"}, on_progress=seen.append)
    assert len(df) == 12
    assert list(df.columns)[:4] == ["x", "label", "state", "duration"]
    assert df["state"].tolist()[:10] == ["SUCCESS"] * 10
    ok = df.iloc[:10]
    assert ok["square"].tolist() == [x * x for x in range(1, 11)]
    assert ok["outputs.label"].tolist() == [f"r{i}" for i in range(10)]     # `label` is an input column
    assert (ok["duration"] > pd.Timedelta(0)).all() and str(ok["startDate"].dtype) == "datetime64[us, UTC]"
    assert ok["executionId"].is_unique and ok["error"].isna().all()
    failed = df.iloc[10]
    assert failed["state"] == "FAILED" and failed["executionId"] and pd.isna(failed["square"])
    bad = df.iloc[11]                                   # 422: no execution, but the row is kept
    assert pd.isna(bad["state"]) and bad["executionId"] is None and "x" in bad["error"]
    assert "\n" not in bad["error"]
    # a row not launched yet is never counted as finished
    assert all(p.finished <= p.launched for p in seen)
    assert not seen[0].done
    final = seen[-1]
    assert final.done and final.total == 12 and final.launched == 12 and final.failed == 2
    assert final.states.get("SUCCESS") == 10 and final.states.get("LAUNCH_ERROR") == 1
    ex = client.executions.get_execution(ok["executionId"][0])
    assert ex.labels.get("team") == "ds" and SWEEP_LABEL in ex.labels
    assert ex.inputs.get("x") == 1


def test_sweep_accepts_records_and_dict_of_lists_with_defaults(client, ns):
    client.flows.create_flow(FLOW.format(ns=ns))
    via_client = sweep(client, ns, "sq", {"x": [2, 3], "label": ["a", np.nan]})
    assert via_client["square"].tolist() == [4, 9]
    assert via_client["outputs.label"].tolist() == ["a", "none"]      # NaN -> the input's default
    records = sweep(client, ns, "sq", [{"x": 4}, {"x": 5, "label": "b"}], max_workers=1)
    assert records["square"].tolist() == [16, 25] and list(records.columns)[:2] == ["x", "label"]
    assert sweep(client, ns, "sq", []).empty
    with pytest.raises(ValueError, match="max_workers"):
        sweep(client, ns, "sq", [{"x": 1}], max_workers=0)


def test_search_frames_follow_pages_up_to_limit(client, ns):
    from kestra_magic.reading import search_executions_frame, search_flows_frame
    client.flows.create_flow(FLOW.format(ns=ns))
    df = sweep(client, ns, "sq", [{"x": x, "label": f"l{x}"} for x in range(7)], labels={"batch": "b1"})
    assert (df["state"] == "SUCCESS").all()
    found = search_executions_frame(client, namespace=ns, limit=5, page_size=2)    # 3 pages
    assert len(found) == 5 and found["id"].is_unique and set(found["id"]) <= set(df["executionId"])
    assert (found["flowId"] == "sq").all() and (found["labels.batch"] == "b1").all()
    assert str(found["startDate"].dtype) == "datetime64[us, UTC]" and (found["duration"] > pd.Timedelta(0)).all()
    everything = search_executions_frame(client, namespace=ns, limit=None, page_size=3)
    assert sorted(everything["id"]) == sorted(df["executionId"])
    flows = search_flows_frame(client, namespace=ns)
    assert flows["id"].tolist() == ["sq"] and flows["namespace"].tolist() == [ns]


def test_sweep_workers_see_the_callers_servers_block(sandbox, ns):
    """`with kestra_magic.servers(...)` applies inside the sweep's worker threads too."""
    from kestra_magic import servers
    from kestra_magic.runs import KestraClient
    from kestra_magic.config import Configuration, ServerConfiguration
    unused = "http://127.0.0.1:9"           # nothing listens there: index 0 would fail every launch
    c = KestraClient(Configuration(servers=[ServerConfiguration(unused), ServerConfiguration(sandbox.url)],
                                   api_generation=sandbox.generation, retries=0))
    try:
        with servers(index=1):
            c.flows.create_flow(FLOW.format(ns=ns))
            df = sweep(c, ns, "sq", [{"x": 2}, {"x": 3}], max_workers=2)
        assert df["state"].tolist() == ["SUCCESS", "SUCCESS"], df["error"].tolist()
        assert df["square"].tolist() == [4, 9]
    finally:
        c.close()


NAP = """
id: nap
namespace: {ns}
inputs:
  - id: x
    type: INT
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.3S
"""


def test_max_workers_bounds_the_executions_running_at_once(client, ns):
    """--max-workers reads as "at most N running": no instant is inside more than N runs' spans."""
    client.flows.create_flow(NAP.format(ns=ns))
    seen: list[SweepProgress] = []
    df = sweep(client, ns, "nap", {"x": list(range(8))}, max_workers=3, on_progress=seen.append)
    assert (df["state"] == "SUCCESS").all(), df["error"].tolist()
    spans = list(zip(df["startDate"], df["endDate"]))
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlap <= 3, spans
    assert overlap >= 2             # and they did run side by side
    assert max(p.running for p in seen) <= 3


def test_failed_rows_say_which_task_failed_and_why_and_state_counts_what_happened(client, ns):
    client.flows.create_flow(FLOW.format(ns=ns))
    seen: list[SweepProgress] = []
    df = sweep(client, ns, "sq", {"x": [1, 13, 2]}, on_progress=seen.append)
    assert df["state"].tolist() == ["SUCCESS", "FAILED", "SUCCESS"]
    assert df["error"][1] == "FAILED at task check: unlucky", df["error"][1]
    assert df["error"][[0, 2]].isna().all()
    counts = df["state"].value_counts()
    assert dict(counts) == {"SUCCESS": 2, "FAILED": 1}          # no zero rows for states that never occurred
    assert str(df["state"].dtype) == "category"
    [failure] = seen[-1].failures
    assert failure["row"] == 1 and failure["id"] == df["executionId"][1] and failure["url"]
    assert failure["error"] == df["error"][1]
