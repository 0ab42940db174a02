"""Cost of the live widget and the static summary for big runs: 200 vs 10,000 task runs.

A run with a Parallel block, a loop over N values (one body task per value) and an errors handler is
drawn the way the live widget draws it (the same number of draws whatever N: the Monitor draws at a
bounded rate), counting the front-end comm messages and their bytes (``comm.create_comm`` replaced, the
hook the ``comm`` package provides for this); then the static summary's HTML size. The baseline is the
200-task-run case; the ratio column shows the 10,000 case against it. Goal: bounded, ratio ~1 (the
table folds loop iterations; the summary keeps the same rows).

Usage: python bench/widget_big_runs.py [--draws 40]
"""
from __future__ import annotations

import argparse
import json
import time

SENT: list[int] = []   # bytes of each comm_msg


def _install_counting_comm() -> None:
    import comm
    from comm.base_comm import BaseComm

    class CountingComm(BaseComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            if msg_type == "comm_msg":
                SENT.append(len(json.dumps(data, default=str)))

    comm.create_comm = CountingComm


def execution(n: int, done: int, failed: int = 1) -> dict:
    """The run after ``done`` of its ``n`` loop iterations ended (the rest are running or created)."""
    def tr(id, task, st, parent=None, value=None):
        return {"id": id, "taskId": task, "parentTaskRunId": parent, "value": value,
                "state": {"current": st, "startDate": "2026-01-01T10:00:01Z",
                          "endDate": None if st in ("RUNNING", "CREATED") else "2026-01-01T10:00:01.050Z"}}
    runs = [tr("p", "parallel", "SUCCESS"), tr("p1", "left", "SUCCESS", "p"), tr("p2", "right", "SUCCESS", "p"),
            tr("e", "each", "RUNNING" if done < n else "FAILED")]
    runs += [tr(f"i{i}", "work", ("FAILED" if i < failed else "SUCCESS") if i < done else
                "RUNNING" if i < done + 8 else "CREATED", "e", str(i)) for i in range(n)]
    if done >= n:
        runs.append(tr("h", "handler", "SUCCESS"))
    return {"id": "Bench1", "namespace": "bench", "flowId": "big", "taskRunList": runs,
            "state": {"current": "RUNNING" if done < n else "FAILED", "startDate": "2026-01-01T10:00:00Z"}}


def measure(n: int, draws: int) -> dict:
    from kestra_magic.notebook.widget import ExecutionWidget
    from kestra_magic.render import RunView, Summary
    SENT.clear()
    w = ExecutionWidget(handle=None)
    w.flow_source = {"tasks": [{"id": "parallel", "type": "io.kestra.plugin.core.flow.Parallel",
                                "tasks": [{"id": "left", "type": "io.kestra.plugin.core.log.Log"},
                                          {"id": "right", "type": "io.kestra.plugin.core.log.Log"}]},
                               {"id": "each", "type": "io.kestra.plugin.core.flow.Loop",
                                "tasks": [{"id": "work", "type": "io.kestra.plugin.core.log.Log"}]}],
                     "errors": [{"id": "handler", "type": "io.kestra.plugin.core.log.Log"}]}
    created = len(SENT)
    t0 = time.perf_counter()
    for k in range(1, draws + 1):
        w.render(RunView.of(execution(n, done=n * k // draws)), [])
    draw_s = (time.perf_counter() - t0) / draws
    live = SENT[created:]
    final = RunView.of(execution(n, done=n))
    html = Summary(final, topology=w.topology_svg(final))._repr_html_()
    return {"messages": len(live), "kB sent": sum(live) / 1024, "largest msg kB": max(live) / 1024,
            "ms per draw": draw_s * 1000, "summary kB": len(html) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=40)
    args = ap.parse_args()
    _install_counting_comm()
    small, big = measure(200, args.draws), measure(10_000, args.draws)
    print(f"{args.draws} draws of a run with a loop; baseline 200 task runs, then 10,000")
    print(f"{'':18}{'200':>10}{'10,000':>10}{'ratio':>8}")
    for key in small:
        print(f"{key:18}{small[key]:10.1f}{big[key]:10.1f}{big[key] / small[key]:8.2f}")


if __name__ == "__main__":
    main()
