"""Sweep speed, side by side in one run (issue 6): 100 executions of one flow on a local sandbox,
as a serial loop of single runs (create with ``wait=True``, then read the flow outputs) and as
``client.sweep`` (at most ``--workers`` executions running at once, followed together). Goal: >= 4x.

The flow does a little work per run (a short sleep standing in for a query or a script), the way
sweeps are used; ``--sleep 0`` measures pure overhead.

    python bench/sweep.py [--runs 100] [--workers 8] [--sleep 0.2] [--api 2]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

FLOW = """
id: bench
namespace: {ns}
inputs:
  - id: x
    type: INT
tasks:
  - id: work
    type: io.kestra.plugin.core.flow.Sleep
    duration: "PT{sleep}S"
  - id: calc
    type: io.kestra.plugin.core.output.OutputValues
    values:
      square: "{{{{ inputs.x * inputs.x }}}}"
outputs:
  - id: square
    type: INT
    value: "{{{{ outputs.calc.values.square }}}}"
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--sleep", type=float, default=0.2)
    ap.add_argument("--api", type=int, default=2, choices=(1, 2))
    args = ap.parse_args()
    from kestra_magic.runs import KestraClient
    from kestra_magic.config import Configuration
    ns = f"bench.{uuid.uuid4().hex[:8]}"
    # The server runs in its own process, as a real Kestra would: client and server do not share a GIL.
    server = subprocess.Popen([sys.executable, "-m", "kestra_magic.sandbox", "--port", "0", "--api", str(args.api),
                               "--no-auth"],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = re.search(r"http://\S+", server.stdout.readline()).group(0)
        client = KestraClient(Configuration(url=url))
        client.flows.create_flow(FLOW.format(ns=ns, sleep=args.sleep))
        client.executions.create_execution(ns, "bench", inputs={"x": 0}, wait=True)    # warm-up

        t0 = time.perf_counter()
        serial = []
        for x in range(args.runs):
            ex = client.executions.create_execution(ns, "bench", inputs={"x": x}, wait=True)
            serial.append((ex.state.current, client.executions.flow_outputs(ex.id).get("square")))
        t_serial = time.perf_counter() - t0

        t0 = time.perf_counter()
        frame = client.sweep(f"{ns}.bench", [{"x": x} for x in range(args.runs)], max_workers=args.workers)
        t_sweep = time.perf_counter() - t0
        client.close()
    finally:
        server.terminate()
        server.wait(10)

    ok_serial = sum(1 for state, sq in serial if state == "SUCCESS")
    ok_sweep = int((frame["state"] == "SUCCESS").sum())
    assert frame["square"].tolist() == [x * x for x in range(args.runs)], "sweep outputs are wrong"
    print(f"\n{args.runs} executions, sandbox api {args.api}, {args.sleep}s of work per run, "
          f"{args.workers} workers\n")
    print(f"{'':34s} {'seconds':>8s} {'runs/s':>8s} {'succeeded':>10s}")
    print(f"{'serial loop (create wait=True)':34s} {t_serial:8.2f} {args.runs / t_serial:8.1f} {ok_serial:10d}")
    print(f"{'client.sweep':34s} {t_sweep:8.2f} {args.runs / t_sweep:8.1f} {ok_sweep:10d}")
    ratio = t_serial / t_sweep
    print(f"\nspeed-up {ratio:.1f}x (goal >= 4x: {'met' if ratio >= 4 else 'NOT met'})")


if __name__ == "__main__":
    main()
