"""Front-end messages per second from the live widget during a run emitting 10,000 log lines.

The run's every update and log line reaches the widget; what matters is how many comm messages
go to the browser. Widget comms are counted by replacing ``comm.create_comm`` (the hook the
``comm`` package provides for exactly this). Baseline: the same widget drawing on every event
(no coalescing). Memory: tracemalloc in this process (the sandbox runs in its own process), what
the finished monitor holds and the peak while following. Goal: <= 10 messages/s, bounded memory.

Usage: python bench/widget_messages.py [--lines 10000] [--chunks 20]
"""
from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import time
import tracemalloc

SENT: list[float] = []


def _install_counting_comm() -> None:
    import comm
    from comm.base_comm import BaseComm

    class CountingComm(BaseComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            if msg_type == "comm_msg":
                SENT.append(time.perf_counter())

    comm.create_comm = CountingComm


@contextlib.contextmanager
def _sandbox_process():
    """``python -m kestra_magic.sandbox`` on a free port; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "kestra_magic.sandbox", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def one_run(client, flow, rate: float) -> dict:
    from kestra_magic.handle import ExecutionHandle
    from kestra_magic.notebook.widget import Monitor
    handle = ExecutionHandle(client, client.executions.create_execution(*flow))
    tracemalloc.start()
    SENT.clear()
    started = time.perf_counter()
    mon = Monitor(handle, widget=True, max_messages_per_second=rate, log_lines=30, display=lambda box: None)
    mon.start()
    assert mon.block(300) == "done", "run did not finish"
    elapsed = time.perf_counter() - started
    held, peak = tracemalloc.get_traced_memory()   # held: what the finished monitor still keeps
    tracemalloc.stop()
    worst = max((sum(1 for t in SENT if s <= t < s + 1.0) for s in SENT), default=0)
    return {"state": handle.state, "seconds": elapsed, "messages": len(SENT), "per_s": len(SENT) / elapsed,
            "worst_1s": worst, "log_lines_seen": mon.follower.log_count, "tail": len(mon.follower.logs),
            "peak_mb": peak / 1e6, "held_mb": held / 1e6, "reread": mon.follower.lagging}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--chunks", type=int, default=20)
    args = parser.parse_args()
    _install_counting_comm()
    import ipywidgets  # noqa: F401  (imported once up front: a kernel pays this once, not per run)
    from kestra_magic.runs import KestraClient
    from kestra_magic.config import Configuration
    per = args.lines // args.chunks
    tasks = ""
    for c in range(args.chunks):
        msgs = "".join(f"      - \"chunk {c} line {i}\"\n" for i in range(per))
        tasks += (f"  - id: log{c}\n    type: io.kestra.plugin.core.log.Log\n    message:\n{msgs}"
                  f"  - id: pause{c}\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.1S\n")
    with _sandbox_process() as url:   # its own process: tracemalloc then sees only the client side
        client = KestraClient(Configuration(url=url))
        client.flows.create_flow(f"id: chatty\nnamespace: bench.messages\ntasks:\n{tasks}")
        flow = ("bench.messages", "chatty")
        small = "".join(f"  - id: s{c}\n    type: io.kestra.plugin.core.log.Log\n    message:\n"
                        + "".join(f"      - \"chunk {c} line {i}\"\n" for i in range(per // 5))
                        + f"  - id: p{c}\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.1S\n"
                        for c in range(args.chunks))
        client.flows.create_flow(f"id: fewer\nnamespace: bench.messages\ntasks:\n{small}")
        rows = {"coalesced (default, 10/s)": one_run(client, flow, 10.0),
                "baseline: draw on every event": one_run(client, flow, 1e9),
                f"coalesced, {per // 5 * args.chunks} lines": one_run(client, ("bench.messages", "fewer"), 10.0)}
        client.close()
    base = rows["baseline: draw on every event"]["per_s"] or 1
    print(f"front-end messages during a run emitting {per * args.chunks} log lines")
    print(f"{'mode':<32}{'run s':>7}{'msgs':>7}{'msgs/s':>8}{'worst 1s':>9}{'logs seen':>10}"
          f"{'tail':>6}{'held MB':>9}{'peak MB':>9}{'lagged':>8}{'msgs/s vs baseline':>20}")
    for name, r in rows.items():
        print(f"{name:<32}{r['seconds']:>7.1f}{r['messages']:>7}{r['per_s']:>8.1f}{r['worst_1s']:>9}"
              f"{r['log_lines_seen']:>10}{r['tail']:>6}{r['held_mb']:>9.2f}{r['peak_mb']:>9.1f}"
              f"{'yes' if r['reread'] else 'no':>8}{r['per_s'] / base:>19.3f}x")
    print("held: memory the finished monitor keeps; peak: highest while following (the log tail is a "
          "bounded deque; a lagging stream is cut after a short drain, never re-read in full)")
    ours = rows["coalesced (default, 10/s)"]
    print(f"coalesced: {ours['per_s']:.1f} msgs/s, worst second {ours['worst_1s']} (goal <= 10/s): "
          f"{'OK' if ours['worst_1s'] <= 10 else 'OVER'}; log tail bounded at {ours['tail']} lines")


if __name__ == "__main__":
    main()
