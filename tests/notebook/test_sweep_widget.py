"""The sweep progress view on a real sweep against the sandbox: widget and text forms."""
from __future__ import annotations

from kestra_magic.runs import KestraClient
from kestra_magic.config import Configuration
from kestra_magic.notebook.sweep_widget import SweepView
from kestra_magic.sweep import sweep

from .conftest import NAME_INPUT, flow_yaml

TASKS = """  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.name == 'bad' }}"
    errorMessage: bad row
"""


def test_sweep_view_widget_and_text(sandbox_v2, ns):
    with KestraClient(Configuration(url=sandbox_v2.url)) as c:
        c.flows.create_flow(flow_yaml(ns, "grid", TASKS, NAME_INPUT))
        rows = {"name": ["a", "bad", "c", "d"]}
        shown = []
        view = SweepView(widget=True, display=shown.append)
        df = sweep(c, ns, "grid", rows, on_progress=view)
        assert shown == [view.box]
        # a bar in proportion: 3 green parts of 4, 1 red, nothing grey left
        assert 'data-state="SUCCESS" data-count="3"' in view.bar.value and "width:75.000%" in view.bar.value
        assert 'data-state="FAILED" data-count="1"' in view.bar.value and "width:25.000%" in view.bar.value
        assert "4/4</b> finished, 1 failed" in view.label.value and "FAILED 1" in view.label.value
        # the failed row: its reason and a link to its execution
        bad = df["executionId"][1]
        assert f'row 1: <a href="' in view.label.value and f">{bad}</a> FAILED at task check: bad row" in view.label.value
        assert sorted(df["state"]) == ["FAILED", "SUCCESS", "SUCCESS", "SUCCESS"]
        lines = []
        text = SweepView(widget=False, out=lines.append)
        sweep(c, ns, "grid", rows, on_progress=text)
        assert lines[-2].startswith("sweep: 4/4 finished, 1 failed (FAILED 1, SUCCESS 3)")
        assert lines[-1].startswith("  row 1: ") and "FAILED at task check: bad row" in lines[-1]   # and why
        progress_lines = [x for x in lines if x.startswith("sweep:")]
        assert len(progress_lines) <= 3 + int(text.last_progress.elapsed / text.text_interval) + 1, lines
