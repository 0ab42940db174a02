"""How fast an execution change reaches an SSE follower of the sandbox (goal: < 20 ms).

Starts a sandbox on 127.0.0.1 and opens ``GET /executions/{id}/follow`` on an execution that
the bench drives itself through the store (the engine's seam): each round it changes the
state, then times until the matching ``progress`` event is read by the client. Beside it, the
baseline: one plain HTTP round trip (``GET /api/v1/configs``) on the same server, and the
ratio of the two, for 1 follower and for several at once.

Usage: python bench/sse_latency.py [--changes 200] [--followers 1 10] [--api 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import threading
import time


def _seed(sb, execution_id: str) -> None:
    now = "2026-01-01T00:00:00Z"
    sb.store.save_execution({
        "id": execution_id, "namespace": "bench.sse", "flowId": "latency", "flowRevision": 1, "tenantId": "main",
        "state": {"current": "RUNNING", "histories": [{"state": "CREATED", "date": now}, {"state": "RUNNING", "date": now}]},
        "originalId": execution_id, "deleted": False, "metadata": {"attemptNumber": 1, "originalCreatedDate": now},
        "labels": [{"key": "round", "value": "0"}]})


def _follower(url: str, seen: dict, ready: threading.Event, stop: threading.Event) -> None:
    import requests
    with requests.get(url, stream=True, headers={"Accept": "text/event-stream"}, timeout=60) as resp:
        for line in resp.iter_lines(decode_unicode=True):
            if line.startswith("data:"):
                data = json.loads(line[5:])
                labels = {l["key"]: l["value"] for l in data.get("labels") or []}
                if "round" in labels:
                    seen.setdefault(int(labels["round"]), time.perf_counter())
                    ready.set()
            if stop.is_set():
                return


def _measure(sb, changes: int, followers: int) -> list[float]:
    execution_id = sb.store.new_id()
    _seed(sb, execution_id)
    url = f"{sb.url}/api/v1/main/executions/{execution_id}/follow"
    seen = [dict() for _ in range(followers)]
    readies = [threading.Event() for _ in range(followers)]
    stop = threading.Event()
    threads = [threading.Thread(target=_follower, args=(url, seen[i], readies[i], stop), daemon=True)
               for i in range(followers)]
    for t in threads:
        t.start()
    for r in readies:
        r.wait(10)
    delays = []
    for n in range(1, changes + 1):
        sent = time.perf_counter()
        sb.store.update_execution(execution_id, lambda ex: ex.__setitem__("labels", [{"key": "round", "value": str(n)}]))
        deadline = sent + 2
        while any(n not in s for s in seen) and time.perf_counter() < deadline:
            time.sleep(0.0002)
        delays.extend(s[n] - sent for s in seen if n in s)
        time.sleep(0.005)   # let streams settle between rounds (changes are not coalesced)
    stop.set()
    sb.store.update_execution(execution_id, lambda ex: ex["state"].__setitem__("current", "SUCCESS"))
    return delays


def _round_trip(sb, calls: int) -> list[float]:
    import requests
    session = requests.Session()
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        session.get(sb.url + "/api/v1/configs", timeout=10).json()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--followers", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--api", type=int, choices=(1, 2), default=2)
    args = parser.parse_args()
    from kestra_magic.sandbox import Sandbox

    def ms(values, q=None):
        if q is None:
            return statistics.median(values) * 1000
        return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000

    with Sandbox(api=args.api, auth=False) as sb:
        base = _round_trip(sb, args.changes)
        print(f"sandbox api {args.api}, {args.changes} changes per run (milliseconds)")
        print(f"{'':32}{'median':>9}{'p95':>9}{'max':>9}{'x round trip':>14}")
        print(f"{'baseline: GET round trip':32}{ms(base):9.2f}{ms(base, .95):9.2f}{max(base) * 1000:9.2f}{1:14.2f}")
        for followers in args.followers:
            delays = _measure(sb, args.changes, followers)
            label = f"state change -> SSE, {followers} follower{'s' if followers > 1 else ''}"
            print(f"{label:32}{ms(delays):9.2f}{ms(delays, .95):9.2f}{max(delays) * 1000:9.2f}"
                  f"{ms(delays) / ms(base):14.2f}")
        print("goal: p95 state change -> SSE < 20 ms")


if __name__ == "__main__":
    main()
