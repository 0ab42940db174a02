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
    assert "5.0 s" in html  # 10:00:00 -> 10:00:05


def test_task_table_rows_and_escaping():
    raw = make_execution(tasks=(("a<b>", "SUCCESS", "v&1"), ("c", "RUNNING", None)))
    now = datetime(2026, 1, 1, 10, 0, 4, tzinfo=timezone.utc)
    html = task_table_html(RunView.of(raw), now=now)
    assert "a&lt;b&gt;" in html and "v&amp;1" in html and "<b>" not in html.replace("<b>a", "")
    assert html.count("<tr data-task-id") == 2  # 2 task runs (+ the header row)
    assert "1.5 s" in html  # finished task duration
    assert "3.0 s" in html  # running task measured up to `now`


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


def test_fmt_duration_reads_as_people_say_it():
    import pandas as pd
    assert [fmt_duration(x) for x in (0.12, 0.44, 0.9996, 2.04, 63, 75, 3600, 7300)] == [
        "120 ms", "440 ms", "1.0 s", "2.0 s", "1 min 3 s", "1 min 15 s", "1 h", "2 h 1 min"]
    assert fmt_duration(pd.Timedelta(seconds=2.000594)) == "2.0 s" and fmt_duration(pd.NaT) == ""
    assert fmt_duration(None) == ""


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


def loop_execution(n: int, *, failed=(), running=(), state="RUNNING") -> dict:
    """A Parallel block, a ForEach over ``n`` values (one body task per value), an errors handler."""
    def tr(id, task, st, parent=None, value=None, end="2026-01-01T10:00:01.050Z"):
        return {"id": id, "taskId": task, "parentTaskRunId": parent, "value": value,
                "state": {"current": st, "startDate": "2026-01-01T10:00:01Z",
                          "endDate": None if st == "RUNNING" else end}}
    runs = [tr("p", "parallel", "SUCCESS"), tr("p1", "left", "SUCCESS", "p"), tr("p2", "right", "SUCCESS", "p"),
            tr("e", "each", "FAILED" if failed else "RUNNING" if running else "SUCCESS")]
    runs += [tr(f"i{i}", "work", "FAILED" if i in failed else "RUNNING" if i in running else "SUCCESS",
                "e", str(i)) for i in range(n)]
    runs.append(tr("h", "handler", "SUCCESS"))
    return {"id": "Loop1", "namespace": "n", "flowId": "f", "taskRunList": runs,
            "state": {"current": state, "startDate": "2026-01-01T10:00:00Z"}}


def test_loop_iterations_fold_under_their_parent_with_counts():
    from kestra_magic.render import task_rows
    view = RunView.of(loop_execution(200, failed={7}, running={199}))
    rows = task_rows(view)
    shown = [(r[0], r[1] if r[0] == "group" else r[1].task_id, r[-1]) for r in rows]
    assert shown == [("row", "parallel", 0), ("row", "left", 1), ("row", "right", 1), ("row", "each", 0),
                     ("group", "work", 1), ("row", "work", 2), ("row", "work", 2), ("row", "handler", 0)]
    assert [r[1].value for r in rows if r[0] == "row" and r[1].task_id == "work"] == ["7", "199"]
    html = task_table_html(view)
    assert 'class="km-group" data-task-id="work" data-state="FAILED" data-count="200"' in html
    assert "199/200: 198 SUCCESS, 1 FAILED, 1 RUNNING" in html
    assert "max-height:22em;overflow-y:auto" in html   # a fixed-height box that scrolls
    done = task_table_html(RunView.of(loop_execution(200)))
    assert "200/200 SUCCESS" in done and "<details>" in done   # expandable group


def test_table_and_summary_size_do_not_grow_with_the_loop():
    from kestra_magic.render import summary_html
    small = RunView.of(loop_execution(200, failed={3}, state="FAILED"))
    big = RunView.of(loop_execution(10_000, failed={3}, state="FAILED"))
    assert len(summary_html(big)) < 1.05 * len(summary_html(small)) < 40_000
    assert "10000/10000: 9999 SUCCESS, 1 FAILED" in summary_html(big)


def test_log_tail_is_pinned_to_the_newest_line_and_filters_by_level():
    logs = [{"timestamp": f"2026-01-01T10:00:{i:02d}Z", "level": lvl, "message": f"line {i}", "taskId": "t"}
            for i, lvl in enumerate(["DEBUG", "INFO", "WARN", "ERROR", "INFO"])]
    html = logs_html(logs)
    assert "flex-direction:column-reverse" in html   # the box starts scrolled to its end
    assert html.index("line 0") < html.index("line 4")   # newest line last, where the box is pinned
    warn = logs_html(logs, min_level="WARN")
    assert "line 2" in warn and "line 3" in warn and "line 1" not in warn and "line 4" not in warn
    assert logs_html(logs, min_level="ERROR").count('class="km-log"') == 1


def test_progress_bar_is_in_proportion():
    from kestra_magic.notebook.widget import progress_bar_html
    html = progress_bar_html({"SUCCESS": 205, "FAILED": 4}, 209)
    assert 'data-state="SUCCESS" data-count="205"' in html and "width:98.086%" in html
    assert 'data-state="FAILED" data-count="4"' in html and "width:1.914%" in html
    assert "RUNNING" not in progress_bar_html({"RUNNING": 3, "SUCCESS": 1}, 4)   # grey rest


def test_summary_keeps_the_final_topology_beside_the_table():
    from kestra_magic.notebook.topology import task_states, topology_svg
    raw = loop_execution(5, failed={2}, state="FAILED")
    flow = {"tasks": [{"id": "parallel", "type": "io.kestra.plugin.core.flow.Parallel",
                       "tasks": [{"id": "left", "type": "io.kestra.plugin.core.log.Log"},
                                 {"id": "right", "type": "io.kestra.plugin.core.log.Log"}]},
                      {"id": "each", "type": "io.kestra.plugin.core.flow.ForEach",
                       "tasks": [{"id": "work", "type": "io.kestra.plugin.core.log.Log"}]}],
            "errors": [{"id": "handler", "type": "io.kestra.plugin.core.log.Log"}]}
    svg = topology_svg(flow, task_states(raw["taskRunList"]))
    html = Summary(RunView.of(raw), topology=svg)._repr_html_()
    assert 'class="km-run-body"' in html and 'class="km-topology"' in html
    assert 'data-task-id="work" data-state="FAILED"' in svg
    assert svg.split(">", 1)[1] in html and html.count('style="max-width:100%;height:auto"') == 1   # scales down


def test_frames_show_durations_as_people_read_them_and_keep_their_dtype(ip):
    """The package's frames (``task_runs``, executions, sweeps) show durations as people read them;
    the column keeps its dtype, and a user's own frames keep pandas' display. ``%load_ext`` registers
    the display (the ``ip`` fixture loads the extension) and ``%unload_ext`` removes it."""
    import pandas as pd
    from kestra_magic.frames.tables import with_readable_durations
    from kestra_magic.notebook.display import unregister_frame_display
    from kestra_magic.render import frame_html
    durations = pd.to_timedelta([0.12, 2.000594, 63], unit="s")
    df = with_readable_durations(pd.DataFrame({"task": ["a", "b", "c"], "duration": durations}))
    html = frame_html(df)
    assert "120 ms" in html and "2.0 s" in html and "1 min 3 s" in html and "0 days" not in html
    assert str(df["duration"].dtype).startswith("timedelta64")          # the column is unchanged
    data, _ = ip.display_formatter.format(df)
    assert "2.0 s" in data["text/html"] and "1 min 3 s" in data["text/plain"]
    assert "2.0 s" in ip.display_formatter.format(df.head(2))[0]["text/html"]   # the mark follows slices
    mine = pd.DataFrame({"task": ["a"], "duration": durations[:1]})     # a user's own frame: untouched
    assert ip.display_formatter.format(mine)[0]["text/html"] == mine._repr_html_()
    assert "0 days" in ip.display_formatter.format(mine)[0]["text/plain"]
    unregister_frame_display(ip)
    assert "0 days" in ip.display_formatter.format(df)[0]["text/plain"]


def test_text_view_folds_loop_iterations():
    lines = []
    view = TextView(lines.append)
    for done in (0, 50, 120, 200):
        raw = loop_execution(200, failed={7} if done > 7 else set(), state="RUNNING" if done < 200 else "FAILED")
        for tr in raw["taskRunList"]:     # iterations not reached yet are still running
            if tr["taskId"] == "work" and int(tr["value"]) >= done:
                tr["state"] = {"current": "RUNNING", "startDate": "2026-01-01T10:00:01Z"}
        view.render(RunView.of(raw))
    assert len(lines) < 25, lines
    assert any("work[7] FAILED" in x for x in lines)
    assert any("work — 200/200: 199 SUCCESS, 1 FAILED" in x for x in lines)
    assert not any("work[3]" in x for x in lines)
