"""Time from a state change on the server to the live view seeing it: SSE follow vs 1 s polling.

An embedded sandbox runs a flow of short Sleep tasks (each task-run transition is a state change).
A thread inside the server process timestamps every change of the execution's state signature
(execution state + task-run states) the moment the store publishes it; the notebook's
``ExecutionFollower`` timestamps when it sees that state or a later one. Same clock, same process.
Goal: SSE p50 <= 50 ms.

Usage: python bench/widget_latency.py [--tasks 15] [--sleep 0.3] [--runs 2]
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time


def signature(raw: dict) -> tuple:
    return ((raw.get("state") or {}).get("current"),
            tuple((t.get("taskId"), (t.get("state") or {}).get("current")) for t in raw.get("taskRunList") or []))


def server_watch(store, execution_id: str, seen: dict, stop: threading.Event) -> None:
    """Record the first time each signature exists on the server."""
    while not stop.is_set():
        with store.changed:
            store.changed.wait(0.05)
            raw = store.executions.get(execution_id)
            if raw is not None:
                seen.setdefault(signature(raw), time.perf_counter())


def one_run(sb, client, flow: tuple[str, str], *, use_sse: bool, poll: float) -> list[float]:
    from kestra_magic.follow import ExecutionFollower
    from kestra_magic.render import raw_of
    server_seen: dict = {}
    client_seen: dict = {}
    stop = threading.Event()
    ex = client.executions.create_execution(*flow)
    watcher = threading.Thread(target=server_watch, args=(sb.store, ex.id, server_seen, stop), daemon=True)
    watcher.start()
    follower = ExecutionFollower(client, ex, poll_interval=poll, logs=False, use_sse=use_sse,
                                 on_update=lambda e: client_seen.setdefault(signature(raw_of(e)),
                                                                            time.perf_counter()))
    follower.start()
    follower.wait(120)
    stop.set()
    watcher.join()
    # For each server change: how long until the client saw it or any later state (polling skips
    # short-lived states; it "sees" them when it sees what came after).
    order = {sig: i for i, sig in enumerate(sorted(server_seen, key=server_seen.get))}
    observed = sorted((t, order[sig]) for sig, t in client_seen.items() if sig in order)
    latencies = []
    for sig, i in order.items():
        seen_at = next((t for t, j in observed if j >= i), None)
        if seen_at is not None:
            latencies.append(max(0.0, seen_at - server_seen[sig]))
    return latencies


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=15)
    parser.add_argument("--sleep", type=float, default=0.3)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    from kestra_magic.runs import KestraClient
    from kestra_magic.config import Configuration
    from kestra_magic.sandbox import Sandbox
    tasks = "".join(f"  - id: t{i}\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT{args.sleep}S\n"
                    for i in range(args.tasks))
    with Sandbox(api=2, auth=False) as sb:
        client = KestraClient(Configuration(url=sb.url))
        client.flows.create_flow(f"id: steps\nnamespace: bench.latency\ntasks:\n{tasks}")
        results = {"SSE follow": [], "polling every 1 s": []}
        for _ in range(args.runs):   # interleaved
            results["SSE follow"] += one_run(sb, client, ("bench.latency", "steps"), use_sse=True, poll=1.0)
            results["polling every 1 s"] += one_run(sb, client, ("bench.latency", "steps"), use_sse=False, poll=1.0)
        client.close()
    base = statistics.median(results["polling every 1 s"])
    print(f"state change on the server -> seen by the live view ({args.tasks} tasks x {args.sleep} s, "
          f"{args.runs} runs each)")
    print(f"{'mode':<20}{'changes':>8}{'p50 ms':>9}{'p90 ms':>9}{'max ms':>9}{'p50 vs polling':>16}")
    for name, values in results.items():
        p50 = statistics.median(values)
        print(f"{name:<20}{len(values):>8}{p50 * 1000:>9.1f}{pct(values, 90) * 1000:>9.1f}"
              f"{max(values) * 1000:>9.1f}{p50 / base:>15.3f}x")
    sse = statistics.median(results["SSE follow"])
    print(f"SSE p50 {sse * 1000:.1f} ms (goal <= 50 ms): {'OK' if sse <= 0.05 else 'OVER'}")


if __name__ == "__main__":
    main()
