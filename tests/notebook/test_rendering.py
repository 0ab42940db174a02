"""Rendering from Execution-shaped data: badge colours, task table, log tail, summary, timeline."""
from __future__ import annotations

from datetime import datetime, timezone

from kestra_magic.models import Execution, LogEntry
from kestra_magic.render import (STATE_COLORS, RunView, Summary, fmt_duration, header_html,
                                          logs_html, summary_text, task_table_html)
from kestra_magic.timeline import Timeline
from kestra_magic.notebook.widget import TextView

from .conftest import make_execution


def test_run_view_from_model_and_dict_agree():
    raw = make_execution()
    a, b = RunView.of(raw), RunView.of(Execution.from_dict(raw))
    assert (a.id, a.state, a.progress()) == (b.id, b.state, b.progress()) == (raw["id"], "RUNNING", (1, 2))
    assert a.labels == {"team": "data"}


def test_header_has_link_badge_colour_and_elapsed():
    view = RunView.of(make_execution("FAILED"), url="http://k/ui/main/executions/x")
    html = header_html(view)
    assert 'href="http://k/ui/main/executions/x"' in html
    assert STATE_COLORS["FAILED"] in html and ">FAILED<" in html
    assert "5.0s" in html  # 10:00:00 -> 10:00:05


def test_task_table_rows_and_escaping():
    raw = make_execution(tasks=(("a<b>", "SUCCESS", "v&1"), ("c", "RUNNING", None)))
    now = datetime(2026, 1, 1, 10, 0, 4, tzinfo=timezone.utc)
    html = task_table_html(RunView.of(raw), now=now)
    assert "a&lt;b&gt;" in html and "v&amp;1" in html and "<b>" not in html.replace("<b>a", "")
    assert html.count("<tr>") == 3  # header + 2 task runs
    assert "1.5s" in html  # finished task duration
    assert "3.0s" in html  # running task measured up to `now`


def test_log_tail_is_level_coloured():
    logs = [LogEntry.from_dict({"timestamp": "2026-01-01T10:00:01.123Z", "level": "ERROR",
                                "message": "boom <x>", "taskId": "t"})]
    html = logs_html(logs)
    assert "boom &lt;x&gt;" in html and "#E0001C" in html and "10:00:01.123" in html


def test_log_tail_lines_are_bounded():
    html = logs_html([{"timestamp": "2026-01-01T10:00:01Z", "level": "INFO", "message": "x" * 100_000}])
    assert 300 < len(html) < 1_000 and "…" in html


def test_summary_text_and_html():
    s = Summary(RunView.of(make_execution("SUCCESS"), url="http://k/ui/x"))
    text = repr(s)
    assert "company.team.etl" in text and "SUCCESS" in text and "2/2 finished" not in text
    assert "task runs: 1/2 finished" in text and "outputs: rows" in text and "UI: http://k/ui/x" in text
    assert 'data-state="SUCCESS"' in s._repr_html_()


def test_summary_note():
    s = Summary(RunView.of(make_execution("SUCCESS")), note="log tail incomplete")
    assert repr(s).endswith("\nlog tail incomplete") and "log tail incomplete" in s._repr_html_()


def test_fmt_duration():
    assert [fmt_duration(x) for x in (0.44, 75, 7300)] == ["0.4s", "1m 15s", "2h 01m"]


def test_text_view_prints_each_transition_once():
    lines = []
    view = TextView(lines.append)
    view.render(RunView.of(make_execution("RUNNING")))
    view.render(RunView.of(make_execution("RUNNING")))
    assert len(lines) == 3  # execution RUNNING, extract SUCCESS, transform RUNNING
    view.render(RunView.of(make_execution("SUCCESS", tasks=(("extract", "SUCCESS", None),
                                                            ("transform", "SUCCESS", None)))))
    assert len(lines) == 5 and "SUCCESS" in lines[3] and "transform SUCCESS" in lines[4]


def test_timeline_svg_and_matplotlib():
    raw = make_execution("SUCCESS", tasks=(("a", "SUCCESS", None), ("b", "FAILED", None)))
    svg = Timeline(raw, engine="svg")
    assert svg.figure is None and svg._repr_png_() is None
    doc = svg._repr_svg_()
    assert doc.startswith("<svg") and doc.count('class="km-bar"') == 2 and STATE_COLORS["FAILED"] in doc
    assert "<script" not in doc and "http" not in doc.replace("http://www.w3.org/2000/svg", "")
    png = Timeline(raw)._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "a" in repr(svg) and "FAILED" in repr(svg)
