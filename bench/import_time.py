"""Start-up cost: ``import kestra_magic`` + creating a client vs ``import kestrapy``.

Each contender runs in a fresh interpreter, several times, interleaved; the cost of an
empty interpreter is subtracted, and the medians and their ratio are printed side by side.
Goal: kestra-magic <= 0.25 x kestrapy.

Usage: python bench/import_time.py [--runs 7]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CONTENDERS = {
    "empty interpreter": "pass",
    "kestra-magic (import + client)": (
        "import kestra_magic\n"
        "from kestra_magic.runs import KestraClient\n"
        "from kestra_magic.config import Configuration\n"
        "KestraClient(Configuration(url='http://127.0.0.1:8080'))"),
    "kestra-magic (import only)": "import kestra_magic",
    "kestrapy (import)": "import kestrapy",
}


def _run(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for name, code in CONTENDERS.items():   # warm the OS file cache
        _run(code)
    for _ in range(args.runs):
        for name, code in CONTENDERS.items():
            samples[name].append(_run(code))
    empty = statistics.median(samples["empty interpreter"])
    cost = {name: max(statistics.median(v) - empty, 1e-6) for name, v in samples.items() if name != "empty interpreter"}
    base = cost["kestrapy (import)"]
    print(f"start-up cost over an empty interpreter ({empty * 1000:.0f} ms), median of {args.runs} runs")
    print(f"{'contender':<34}{'ms':>8}{'vs kestrapy':>13}")
    for name, value in cost.items():
        print(f"{name:<34}{value * 1000:>8.0f}{value / base:>12.2f}x")
    ratio = cost["kestra-magic (import + client)"] / base
    print(f"kestra-magic import + client vs import kestrapy: {ratio:.2f}x (goal <= 0.25x): "
          f"{'OK' if ratio <= 0.25 else 'OVER'}")


if __name__ == "__main__":
    main()
