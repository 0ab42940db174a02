"""How the sandbox engine's cost grows with the size of an execution.

Runs, over HTTP against an in-process sandbox, a flow whose ForEach (1.x) / Loop (2.x) has
N iterations of one Return task, for a small N (the baseline) and for k x N, and prints the
wall time per task run side by side with the ratio. A ratio near 1 means the engine is
linear in the number of task runs (each update must not copy the whole execution).

Usage: python bench/engine_scaling.py [--n 100] [--factor 4] [--api 2] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

FLOW = """
id: scale
namespace: bench.engine
inputs:
  - id: n
    type: INT
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.{loop}
    values: "{{{{ range(1, inputs.n) }}}}"
    tasks:
      - id: step
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ {value} }}}}"
"""


def run_once(requests, base: str, n: int) -> float:
    started = time.perf_counter()
    r = requests.post(f"{base}/executions/bench.engine/scale", files={"n": (None, str(n))},
                      params={"wait": "true"}, timeout=600)
    r.raise_for_status()
    assert r.json()["state"]["current"] == "SUCCESS", r.json()["state"]
    return (time.perf_counter() - started) / (n + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--factor", type=int, default=4)
    parser.add_argument("--api", type=int, default=2, choices=(1, 2))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import requests

    from kestra_magic.sandbox import Sandbox

    loop, value = ("ForEach", "taskrun.value") if args.api == 1 else ("Loop", "item.value")
    with Sandbox(api=args.api, auth=False) as sb:
        base = f"{sb.url}/api/v1/main"
        r = requests.post(f"{base}/flows", data=FLOW.format(loop=loop, value=value),
                          headers={"Content-Type": "application/x-yaml"}, timeout=10)
        r.raise_for_status()
        small, large = [], []
        for _ in range(args.rounds):        # interleaved so machine noise hits both sizes alike
            small.append(run_once(requests, base, args.n))
            large.append(run_once(requests, base, args.n * args.factor))
    s, l = statistics.median(small), statistics.median(large)
    print(f"api {args.api}  {loop} of N task runs, median of {args.rounds} rounds")
    print(f"  N = {args.n:>6}: {s * 1000:8.2f} ms per task run (baseline)")
    print(f"  N = {args.n * args.factor:>6}: {l * 1000:8.2f} ms per task run")
    print(f"  ratio (per task run, {args.factor}x N vs N): {l / s:.2f}  (1.00 = linear)")


if __name__ == "__main__":
    main()
