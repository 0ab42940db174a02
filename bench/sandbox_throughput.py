"""Sandbox throughput, in memory vs durable (SQLite in a data dir), side by side.

Two numbers per backend, over HTTP against an in-process sandbox with a few client threads:
executions/s of a one-task flow (create with ``wait=true``: created, run, final state committed)
and log lines/s (one execution of a ``ForEach``/``Loop`` of Log tasks, lines counted per second
of its run). Rounds alternate backends so machine noise hits both alike; the ratio
durable / in-memory is printed (goal: >= 0.5).

Then the store alone (no engine, no HTTP): the cost of one task run's changes as the engine makes
them (append, RUNNING, an attempt, its end) in one execution growing to 20,000 task runs, over
its first 1,000 and its last 1,000 task runs (process CPU time), per backend, with the ratio last / first (goal:
<= 1.5, i.e. flat per task run).

Usage: python bench/sandbox_throughput.py [--runs 200] [--clients 4] [--lines 2000] [--api 2] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time

ONE_TASK = """
id: one
namespace: bench.throughput
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ execution.id }}"
"""

LOGS = """
id: logs
namespace: bench.throughput
inputs:
  - id: n
    type: INT
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.{loop}
    values: "{{{{ range(1, inputs.n) }}}}"
    tasks:
      - id: say
        type: io.kestra.plugin.core.log.Log
        message: "line {{{{ {value} }}}}"
"""


def executions_per_second(requests, base: str, runs: int, clients: int) -> float:
    per_client = runs // clients
    errors: list[BaseException] = []

    def client() -> None:
        http = requests.Session()
        try:
            for _ in range(per_client):
                r = http.post(f"{base}/executions/bench.throughput/one", params={"wait": "true"}, timeout=120)
                r.raise_for_status()
                assert r.json()["state"]["current"] == "SUCCESS", r.json()["state"]
        except BaseException as exc:
            errors.append(exc)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return per_client * clients / (time.perf_counter() - started)


def log_lines_per_second(requests, base: str, lines: int) -> float:
    started = time.perf_counter()
    r = requests.post(f"{base}/executions/bench.throughput/logs", files={"n": (None, str(lines))},
                      params={"wait": "true"}, timeout=600)
    r.raise_for_status()
    elapsed = time.perf_counter() - started
    count = len(requests.get(f"{base}/logs/{r.json()['id']}", timeout=60).json())
    assert count >= lines, count
    return count / elapsed


def measure(api: int, data_dir: str | None, args) -> tuple[float, float]:
    import requests

    from kestra_magic.sandbox import Sandbox
    loop, value = ("ForEach", "taskrun.value") if api == 1 else ("Loop", "item.value")
    with Sandbox(api=api, data_dir=data_dir, auth=False) as sb:
        base = f"{sb.url}/api/v1/main"
        for source in (ONE_TASK, LOGS.format(loop=loop, value=value)):
            requests.post(f"{base}/flows", data=source, headers={"Content-Type": "application/x-yaml"},
                          timeout=10).raise_for_status()
        return (executions_per_second(requests, base, args.runs, args.clients),
                log_lines_per_second(requests, base, args.lines))


def store_cost_per_task_run(n: int, data_dir: str | None, window: int = 1000) -> tuple[float, float]:
    """Seconds per task run of the engine's store calls in one execution growing to ``n`` task
    runs: over its first ``window`` task runs, and over its last ``window`` (the cost of one more
    task run once the execution is big). CPU time of the whole process (the commit thread
    included): on a shared machine wall time over a few milliseconds is mostly other processes."""
    import gc

    from kestra_magic.sandbox.store import Store
    store = Store(2, data_dir)
    try:
        store.save_execution({"id": "e", "namespace": "bench", "flowId": "f", "state": {"current": "RUNNING"},
                              "taskRunList": []})
        gc.collect()
        marks = {}
        started = time.process_time()
        for i in range(n):
            if i == window:
                marks["first"] = (time.process_time() - started) / window
            if i == n - window:
                started = time.process_time()
            tid = f"tr{i}"
            store.add_task_run("e", {"id": tid, "taskId": "step", "value": str(i), "state": {"current": "CREATED",
                                                                                         "histories": []}})
            store.update_task_run("e", tid, lambda tr: tr["state"].update(current="RUNNING"))
            store.update_task_run("e", tid, lambda tr: tr.setdefault("attempts", []).append({"state": "RUNNING"}))

            def end(ex: dict, tid=tid) -> None:   # the walker's way: search from the end
                for tr in reversed(ex["taskRunList"]):
                    if tr["id"] == tid:
                        tr["attempts"][-1]["state"] = "SUCCESS"
                        tr["state"]["current"] = "SUCCESS"
                        return
            store.update_execution("e", end, copy_result=False)
        marks["last"] = (time.process_time() - started) / window
        store.update_execution("e", lambda ex: ex["state"].update(current="SUCCESS"), copy_result=False)
        return marks["first"], marks["last"]
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--api", type=int, default=2, choices=(1, 2))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    memory, durable = [], []
    for _ in range(args.rounds):
        memory.append(measure(args.api, None, args))
        with tempfile.TemporaryDirectory(prefix="kestra-bench-") as tmp:
            durable.append(measure(args.api, tmp, args))
    print(f"api {args.api}, {args.clients} clients, median of {args.rounds} rounds")
    print(f"  {'':24} {'in-memory':>12} {'SQLite':>12} {'ratio':>7}")
    for i, name in enumerate(("executions/s (1 task)", "log lines/s")):
        m = statistics.median(r[i] for r in memory)
        d = statistics.median(r[i] for r in durable)
        print(f"  {name:24} {m:12.1f} {d:12.1f} {d / m:7.2f}")
    print("  goal: ratio >= 0.50")
    print("store alone: CPU microseconds per task run (engine-style changes), best of rounds")
    print(f"  {'':24} {'first 1,000':>12} {'last 1,000':>12} {'ratio':>7}   (one execution of 20,000)")
    for label, durable in (("in-memory", False), ("SQLite", True)):
        runs = []
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory(prefix="kestra-bench-") as tmp:
                runs.append(store_cost_per_task_run(20000, tmp if durable else None))
        first, last = min(r[0] for r in runs), min(r[1] for r in runs)
        print(f"  {label:24} {first * 1e6:12.1f} {last * 1e6:12.1f} {last / first:7.2f}")
    print("  goal: ratio <= 1.50")


if __name__ == "__main__":
    main()
