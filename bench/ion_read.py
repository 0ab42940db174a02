"""ION reading speed and memory, side by side in one run (issues 6 and 11).

100,000 rows x 9 typed columns (int, string, decimal(2), float, bool, UTC timestamp (ms), date,
LocalDateTime string, decimal with 30% nulls), the same data as:
  - Kestra-shaped text ION (1.x: one struct per line),
  - binary ION with one version marker per row (2.x ``FileSerde.write``),
  - JSON Lines (the baseline: ``pandas.read_json(lines=True)``).

Part 1 (decoders, in memory): kestra_magic's readers and amazon.ion's default ``simpleion.loads``
against ``pandas.read_json``. Goals: text <= 1.5x, binary <= 2.5x.

Part 2 (end to end, both generations): a sandbox of each generation serves the rows as an execution's
output files (ION in its generation's encoding, and the same rows as JSONL). Each reader runs in a fresh
process: the default ``run.read(...)`` (output lookup, size check, download + the package's decoder)
against the same client's ``download_file`` + ``pandas.read_json(lines=True)`` of the JSONL file (the
same HTTP download path on both sides); on 2.x also ``via="jsonl"`` (the server's conversion, the
former default). Wall time and CPU time of the reader's process (best of N) and peak memory (growth of
the process's peak RSS during the first read) as ratios to the baseline. Goals: <= 0.5x wall time and
<= 0.5x peak memory. The machine may be shared: run it several times and read the CPU column too.

    python bench/ion_read.py [--rows 100000] [--repeat 3] [--skip-default] [--skip-decoders]
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def make_rows(n: int, seed: int = 1) -> list[dict]:
    """Plain Python rows; the writers below render them the way Kestra does."""
    r = random.Random(seed)
    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(n):
        ts = base + timedelta(milliseconds=r.randrange(10**10))
        rows.append({"id": i, "name": f"name-{r.randrange(10**6)}", "price": r.randrange(10**6),   # cents
                     "score": r.random() * 1000, "ok": r.random() < 0.5, "ts": ts,
                     "maybe": None if r.random() < 0.3 else r.randrange(10**5)})                 # thousandths
    return rows


def _ts_text(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def write_text_ion(rows: list[dict]) -> bytes:
    """What ion-java's text writer produces for these Java values (see ion-and-tasks.md §1.1)."""
    out = []
    for row in rows:
        ts = row["ts"]
        maybe = "null" if row["maybe"] is None else f"{row['maybe'] // 1000}.{row['maybe'] % 1000:03d}"
        out.append(
            f'{{id:{row["id"]},name:"{row["name"]}",price:{row["price"] // 100}.{row["price"] % 100:02d},'
            f'score:{row["score"]!r}e0,ok:{"true" if row["ok"] else "false"},ts:{_ts_text(ts)},'
            f'day:{ts.date().isoformat()},ldt:LocalDateTime::"{_ts_text(ts)[:-1]}",maybe:{maybe}}}')
    return ("\n".join(out) + "\n").encode()


def write_binary_ion(text: bytes) -> bytes:
    """The same rows, each its own binary stream with a version marker (Kestra 2.x)."""
    from amazon.ion import simpleion
    return b"".join(simpleion.dumps(v, binary=True) for v in simpleion.loads(text, single_value=False))


def write_jsonl(rows: list[dict]) -> bytes:
    out = []
    for row in rows:
        ts = row["ts"]
        out.append(json.dumps({
            "id": row["id"], "name": row["name"], "price": row["price"] / 100, "score": row["score"],
            "ok": row["ok"], "ts": _ts_text(ts), "day": ts.date().isoformat(), "ldt": _ts_text(ts)[:-1],
            "maybe": None if row["maybe"] is None else row["maybe"] / 1000}))
    return ("\n".join(out) + "\n").encode()


def data_files(n: int) -> dict[str, bytes]:
    cache = os.path.join(tempfile.gettempdir(), f"kestra-magic-bench-ion-{n}")
    os.makedirs(cache, exist_ok=True)
    paths = {k: os.path.join(cache, f"data.{k}") for k in ("text", "binary", "jsonl")}
    if not all(os.path.exists(p) for p in paths.values()):
        print(f"writing {n:,} rows (cached in {cache}) ...", flush=True)
        rows = make_rows(n)
        text = write_text_ion(rows)
        for key, data in (("text", text), ("binary", write_binary_ion(text)), ("jsonl", write_jsonl(rows))):
            with open(paths[key], "wb") as f:
                f.write(data)
    return {k: open(p, "rb").read() for k, p in paths.items()}


def default_amazon_ion(data: bytes):
    import pandas as pd
    from amazon.ion import simpleion
    return pd.DataFrame(simpleion.loads(data, single_value=False))


def decoders(args) -> None:
    import pandas as pd
    from kestra_magic.frames import read_ion
    from kestra_magic.frames.ion import json_rows_frame
    files = data_files(args.rows)
    cases = [
        ("pandas.read_json(JSONL, lines=True)", lambda: pd.read_json(io.BytesIO(files["jsonl"]), lines=True)),
        ("kestra_magic read_ion(text ION)", lambda: read_ion(files["text"])),
        ("kestra_magic read_ion(binary ION, IVM per row)", lambda: read_ion(files["binary"])),
        ("kestra_magic 2.x path: server JSONL -> typed frame", lambda: json_rows_frame(files["jsonl"])),
    ]
    if not args.skip_default:
        cases += [("amazon.ion simpleion.loads + DataFrame (text)", lambda: default_amazon_ion(files["text"])),
                  ("amazon.ion simpleion.loads + DataFrame (binary)", lambda: default_amazon_ion(files["binary"]))]
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    cpu: dict[str, list[float]] = {name: [] for name, _ in cases}
    shapes = {}
    for rep in range(args.repeat):            # interleaved so machine load hits every reader alike
        for name, fn in cases:
            if rep and name.startswith("amazon.ion"):
                continue                       # one run is enough to show the order of magnitude
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            frame = fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            shapes[name] = frame.shape
    base = min(times[cases[0][0]])
    sizes = {k: len(v) / 1e6 for k, v in files.items()}
    print(f"\n{args.rows:,} rows x 9 columns; text ION {sizes['text']:.1f} MB, binary ION "
          f"{sizes['binary']:.1f} MB, JSONL {sizes['jsonl']:.1f} MB; best of {args.repeat}\n")
    cpu_base = min(cpu[cases[0][0]])
    print("wall = elapsed seconds; cpu = CPU seconds of this process (all its threads), steadier on a busy machine")
    print(f"{'reader':52s} {'wall s':>7s} {'x JSONL':>8s} {'cpu s':>7s} {'x JSONL':>8s}  goal (wall)")
    goals = {"kestra_magic read_ion(text ION)": 1.5, "kestra_magic read_ion(binary ION, IVM per row)": 2.5}
    for name, _ in cases:
        best = min(times[name])
        ratio = best / base
        goal = goals.get(name)
        verdict = "" if goal is None else (f"<= {goal}x {'met' if ratio <= goal else 'NOT met'}")
        cbest = min(cpu[name])
        print(f"{name:52s} {best:7.2f} {ratio:8.2f} {cbest:7.2f} {cbest / cpu_base:8.2f}  {verdict}")
    frame = read_ion(files["text"])
    print("\ndtypes:", ", ".join(f"{c}={t}" for c, t in frame.dtypes.items()))


COPY_FLOW = """
id: rows
namespace: bench.ion
inputs:
  - id: ion
    type: STRING
  - id: jsonl
    type: STRING
tasks:
  - id: copy
    type: io.kestra.plugin.scripts.python.Script
    outputFiles: ["rows.ion", "rows.jsonl"]
    script: |
      import shutil
      shutil.copyfile("{{ inputs.ion }}", "rows.ion")
      shutil.copyfile("{{ inputs.jsonl }}", "rows.jsonl")
"""

WORKER_CASES = ("default read", "download + pandas.read_json", "via='jsonl' (server conversion)")


def worker(case: str, url: str, execution_id: str, repeat: int) -> None:
    """One reader in a fresh process: prints ``best_wall best_cpu peak_growth_bytes rows``."""
    import pandas as pd
    import kestra_magic as km
    from kestra_magic.reading import find_file
    c = km.configure(url=url)
    run = km.attach(execution_id)
    _, jsonl_uri = find_file(c, run.execution, "rows.jsonl")
    import kestra_magic.frames.ion  # noqa: F401  (imports are not the read's cost)

    def read():
        if case == WORKER_CASES[0]:
            return run.read("rows.ion")
        if case == WORKER_CASES[1]:
            return pd.read_json(io.BytesIO(c.executions.download_file(run.id, jsonl_uri)), lines=True)
        return run.read("rows.ion", via="jsonl")

    # the metadata lookups of the reads (output listing) are warmed once, outside the measure
    find_file(c, run.execution, "rows.ion")
    best, best_cpu, rows = float("inf"), float("inf"), 0
    peak = 0
    for i in range(repeat):
        gc.collect()
        sampler = _RssPeak() if i == 0 else None
        t0, c0 = time.perf_counter(), time.process_time()
        frame = read()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
        rows = len(frame)
        if sampler is not None:
            peak = sampler.stop()
        del frame
    print(f"{best} {best_cpu} {peak} {rows}")


class _RssPeak:
    """Peak resident memory above the starting point, sampled every millisecond from /proc (counts
    what pandas, numpy, pyarrow and the decoder allocate alike, which tracemalloc would not)."""

    def __init__(self) -> None:
        import threading
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self._rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def _sample(self) -> None:
        while not self._done.wait(0.001):
            self.peak = max(self.peak, self._rss())

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return max(self.peak, self._rss()) - self.start


def end_to_end(args) -> None:
    import subprocess
    from kestra_magic.config import Configuration
    from kestra_magic.runs import KestraClient
    from kestra_magic.sandbox import Sandbox
    cache = os.path.join(tempfile.gettempdir(), f"kestra-magic-bench-ion-{args.rows}")
    data_files(args.rows)
    print(f"\nend to end, {args.rows:,} rows, each reader in a fresh process (best of {args.repeat}; "
          f"memory: growth of peak RSS during the first read;\ncpu: CPU seconds of the reader's process, "
          f"all threads, steadier than wall time on a busy machine; the server's time is in wall only)")
    print(f"{'generation':10s} {'reader':34s} {'wall s':>7s} {'x base':>7s} {'cpu s':>7s} {'x base':>7s} "
          f"{'peak MB':>8s} {'x base':>7s}  goal (wall and memory)")
    for api in (1, 2):
        sb = Sandbox(api=api, auth=False).start()
        try:
            with KestraClient(Configuration(url=sb.url)) as c:
                c.flows.upsert_flow(COPY_FLOW)
                ion = os.path.join(cache, "data.text" if api == 1 else "data.binary")
                run = c.run("bench.ion.rows", inputs={"ion": ion, "jsonl": os.path.join(cache, "data.jsonl")},
                            timeout=120)
            cases = WORKER_CASES if api == 2 else WORKER_CASES[:2]
            results = {}
            for case in cases:
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", case, sb.url,
                                      run.id, str(args.repeat)], capture_output=True, text=True, check=True)
                best, cpu, peak, rows = out.stdout.split()
                assert int(rows) == args.rows, (case, rows)
                results[case] = (float(best), float(cpu), int(peak))
            base_t, base_c, base_m = results[WORKER_CASES[1]]
            for case in cases:
                t, cpu, m = results[case]
                goal = ""
                if case == WORKER_CASES[0]:
                    ok = t / base_t <= 0.5 and m / max(base_m, 1) <= 0.5
                    goal = f"<= 0.5x {'met' if ok else 'NOT met'}"
                print(f"{api}.x{'':7s} {case:34s} {t:7.2f} {t / base_t:7.2f} {cpu:7.2f} {cpu / base_c:7.2f} "
                      f"{m / 1e6:8.1f} {m / max(base_m, 1):7.2f}  {goal}")
        finally:
            sb.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-default", action="store_true", help="skip amazon.ion's slow default model")
    ap.add_argument("--skip-decoders", action="store_true", help="only the end-to-end comparison")
    ap.add_argument("--worker", nargs=4, metavar=("CASE", "URL", "EXECUTION", "REPEAT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        case, url, execution_id, repeat = args.worker
        worker(case, url, execution_id, int(repeat))
        return
    if not args.skip_decoders:
        decoders(args)
    end_to_end(args)


if __name__ == "__main__":
    main()
