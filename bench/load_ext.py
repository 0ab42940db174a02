"""``%load_ext kestra_magic`` wall time vs ``import kestrapy`` (goal <= 0.25x).

Each measurement runs in a fresh interpreter: an IPython shell is created first (untimed: a
notebook kernel already has one), then only ``%load_ext kestra_magic`` is timed; the baseline is
``import kestrapy`` timed the same way in its own fresh interpreter. Medians side by side.

Usage: python bench/load_ext.py [--runs 9]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

TIMED = {
    "%load_ext kestra_magic": (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "import time\n"
        "t = time.perf_counter()\n"
        "ip.run_line_magic('load_ext', 'kestra_magic')\n"
        "print(time.perf_counter() - t)\n"
        "import sys\n"
        "heavy = [m for m in ('pandas', 'ipywidgets', 'pyarrow', 'amazon.ion', 'requests') if m in sys.modules]\n"
        "assert not heavy, heavy\n"),
    "import kestrapy": (
        "import time\n"
        "t = time.perf_counter()\n"
        "import kestrapy\n"
        "print(time.perf_counter() - t)\n"),
}


def _run(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in TIMED}
    for code in TIMED.values():   # warm the OS file cache
        _run(code)
    for _ in range(args.runs):    # interleaved, so machine noise hits both alike
        for name, code in TIMED.items():
            samples[name].append(_run(code))
    med = {name: statistics.median(v) for name, v in samples.items()}
    base = med["import kestrapy"]
    print(f"median of {args.runs} fresh interpreters each")
    print(f"{'contender':<26}{'ms':>9}{'vs kestrapy':>13}")
    for name, value in med.items():
        print(f"{name:<26}{value * 1000:>9.1f}{value / base:>12.2f}x")
    ratio = med["%load_ext kestra_magic"] / base
    print(f"%load_ext kestra_magic vs import kestrapy: {ratio:.3f}x (goal <= 0.25x): "
          f"{'OK' if ratio <= 0.25 else 'OVER'}")


if __name__ == "__main__":
    main()
