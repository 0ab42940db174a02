"""How the sandbox engine's cost grows with the number of task runs of one execution.

Runs, over HTTP against a sandbox in its own process (as a real Kestra would be: the client's JSON
parsing does not share the server's GIL; ``--server thread`` runs it in this process), a flow whose ForEach (1.x) / Loop (2.x) has
N iterations of one Return task, as a client would: create, then wait until terminal by
polling GET /executions/{id} (``--wait poll``) or by following /executions/{id}/follow and
parsing every event, as kestra_magic's client does (``--wait follow``); for N = 1k .. 20k. It
prints the wall time per task run at each size with the ratio to the 1k baseline (goal: <= 1.5x
at 20k), then the size and time of GET /executions/{id} at the largest size.

``--backend memory`` runs the default in-memory store; ``--backend sqlite`` passes a data
directory to the sandbox (the durable store); ``--backend both`` prints the two side by side.

Usage: python bench/engine_scaling.py [--sizes 1000,2000,5000,10000,20000] [--api 2]
       [--backend memory|sqlite|both] [--wait poll|follow|both] [--poll 0.25] [--rounds 1]
       [--server process|thread]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
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


def _cpu(pid: int | None) -> float:
    """CPU seconds used so far by this process and, if given, the sandbox's process (Linux /proc)."""
    total = time.process_time()
    if pid is not None:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime
    return total


def run_once(session, base: str, n: int, poll: float, wait: str = "poll",
             server_pid: int | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the sandbox and the client) per task run (n iterations + the
    loop task itself), create then poll or follow. CPU time tells the bench's own work apart from
    what other processes on a shared machine take."""
    started, cpu = time.perf_counter(), _cpu(server_pid)
    r = session.post(f"{base}/executions/bench.engine/scale", files={"n": (None, str(n))}, timeout=600)
    r.raise_for_status()
    execution_id = r.json()["id"]
    if wait == "follow":
        state = follow(session, base, execution_id)
        assert state == "SUCCESS", state
        return (time.perf_counter() - started) / (n + 1), (_cpu(server_pid) - cpu) / (n + 1)
    wait = 0.01   # backs off to `poll`: small sizes are not rounded up to a whole poll interval
    while True:
        state = session.get(f"{base}/executions/{execution_id}", timeout=600).json()["state"]["current"]
        if state not in ("CREATED", "RUNNING", "QUEUED"):
            break
        time.sleep(wait)
        wait = min(poll, wait * 2)
    assert state == "SUCCESS", state
    return (time.perf_counter() - started) / (n + 1), (_cpu(server_pid) - cpu) / (n + 1)


def follow(session, base: str, execution_id: str) -> str:
    """Read the follow stream to its ``end`` event, parsing every event (a client reads each).

    Events are cut in linear time (a 15 MB event arrives in hundreds of chunks; requests'
    ``iter_lines`` re-splits the pending text at every chunk, quadratic in the line length)."""
    with session.get(f"{base}/executions/{execution_id}/follow", stream=True, timeout=600,
                     headers={"Accept": "text/event-stream"}) as r:
        r.raise_for_status()
        pending = bytearray()
        for chunk in r.iter_content(chunk_size=1 << 16):
            scan_from = max(0, len(pending) - 1)
            pending += chunk
            while (cut := pending.find(b"\n\n", scan_from)) >= 0:
                block, scan_from = bytes(pending[:cut]), 0
                del pending[:cut + 2]
                marker, data = None, None
                for line in block.split(b"\n"):
                    if line.startswith(b"id:"):
                        marker = line[3:].strip()
                    elif line.startswith(b"data:"):
                        data = json.loads(line[5:])
                if marker == b"end":
                    return data["state"]["current"]
    raise AssertionError("the follow stream ended without an end event")


@contextlib.contextmanager
def sandbox(api: int, data_dir: str | None, server: str):
    """(base URL, pid or None) of an open sandbox: its own process, or a thread of this one."""
    if server == "thread":
        from kestra_magic.sandbox import Sandbox
        with Sandbox(api=api, data_dir=data_dir, auth=False) as sb:
            yield sb.url, None
        return
    cmd = [sys.executable, "-m", "kestra_magic.sandbox", "--port", "0", "--api", str(api), "--no-auth"]
    proc = subprocess.Popen(cmd + (["--data-dir", data_dir] if data_dir else []), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:
            found = re.search(r"http://\S+", line)
            if found:
                break
        else:
            raise RuntimeError("the sandbox did not start")
        yield found.group(0), proc.pid
    finally:
        proc.terminate()
        proc.wait(30)


def measure(api: int, backend: str, sizes: list[int], poll: float, rounds: int, wait: str,
            server: str = "process") -> dict:
    import requests

    loop, value = ("ForEach", "taskrun.value") if api == 1 else ("Loop", "item.value")
    with tempfile.TemporaryDirectory(prefix="kestra-bench-") as data_dir, \
            sandbox(api, data_dir if backend == "sqlite" else None, server) as (url, pid):
        base = f"{url}/api/v1/main"
        session = requests.Session()
        r = session.post(f"{base}/flows", data=FLOW.format(loop=loop, value=value),
                         headers={"Content-Type": "application/x-yaml"}, timeout=10)
        r.raise_for_status()
        per_size, cpu_size = {}, {}
        for n in sizes:
            runs = [run_once(session, base, n, poll, wait, pid) for _ in range(rounds)]
            per_size[n] = statistics.median(r[0] for r in runs)
            cpu_size[n] = statistics.median(r[1] for r in runs)
        # the last execution has max(sizes) task runs: what one poll of it costs
        last = session.get(f"{base}/executions/search", params={"size": 1}, timeout=60).json()["results"][0]["id"]
        started = time.perf_counter()
        body = session.get(f"{base}/executions/{last}", timeout=600).content
        get_seconds = time.perf_counter() - started
    return {"per_size": per_size, "cpu_size": cpu_size, "get_bytes": len(body), "get_seconds": get_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,5000,10000,20000")
    parser.add_argument("--api", type=int, default=2, choices=(1, 2))
    parser.add_argument("--backend", default="both", choices=("memory", "sqlite", "both"))
    parser.add_argument("--wait", default="poll", choices=("poll", "follow", "both"),
                        help="how the client waits: poll GET /executions/{id}, or follow its SSE stream")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between two polls of the execution")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--server", default="process", choices=("process", "thread"),
                        help="the sandbox in its own process (default, as a real server) or a thread of this one")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    stores = ["memory", "sqlite"] if args.backend == "both" else [args.backend]
    waits = ["poll", "follow"] if args.wait == "both" else [args.wait]
    backends = [f"{b}/{w}" for b in stores for w in waits]
    results = {b: measure(args.api, b.split("/")[0], sizes, args.poll, args.rounds, b.split("/")[1],
                          args.server)
               for b in backends}

    print(f"api {args.api}, one {'ForEach' if args.api == 1 else 'Loop'} of N Return task runs, "
          f"create then poll (backing off to {args.poll}s) or follow, median of {args.rounds} round(s)")
    print(f"{'N task runs':>12}" + "".join(f"{b + ' ms/tr':>20}{'x ' + str(sizes[0]):>9}{'cpu ms/tr':>10}{'x':>6}"
                                           for b in backends))
    for n in sizes:
        row = f"{n:>12}"
        for b in backends:
            per, cpu = results[b]["per_size"], results[b]["cpu_size"]
            row += (f"{per[n] * 1000:>20.3f}{per[n] / per[sizes[0]]:>9.2f}"
                    f"{cpu[n] * 1000:>10.3f}{cpu[n] / cpu[sizes[0]]:>6.2f}")
        print(row)
    for b in backends:
        per, cpu = results[b]["per_size"], results[b]["cpu_size"]
        print(f"{b}: ratio {sizes[-1]}/{sizes[0]} per task run = {per[sizes[-1]] / per[sizes[0]]:.2f} wall, "
              f"{cpu[sizes[-1]] / cpu[sizes[0]]:.2f} CPU (goal <= 1.5); "
              f"{sizes[-1]} task runs in {per[sizes[-1]] * (sizes[-1] + 1):.1f}s (goal < 20s); "
              f"GET /executions/{{id}} at {sizes[-1]}: {results[b]['get_bytes'] / 1e6:.1f} MB "
              f"in {results[b]['get_seconds'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
