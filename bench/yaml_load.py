"""Reading flow YAML within Kestra's limits (kestra_magic.safe_yaml) vs PyYAML without limits.

Times the same documents three ways, interleaved in rounds (rotating who goes first) so that
machine noise hits all alike, and prints the medians and ratios side by side:

    safe_yaml   kestra_magic.safe_yaml.load   (libyaml parser + the limit-counting composer)
    C           yaml.load(..., Loader=yaml.CSafeLoader)   (goal: safe_yaml <= 2 x C)
    pure        yaml.safe_load                (what the sandbox and the cell used before)

Documents: a 10-task flow (~2 KB) and a 2,000-task flow (~400 KB).

Usage: python bench/yaml_load.py [--rounds 7]
"""
from __future__ import annotations

import argparse
import statistics
import time

TASK = """  - id: t{i}
    type: io.kestra.plugin.scripts.python.Script
    script: |
      print("hello {i}")
      x = [1, 2, 3]
    env: {{A: "1", B: "2"}}
    retry: {{type: constant, maxAttempts: 3, interval: PT1S}}
"""


def flow(tasks: int) -> str:
    return "id: f\nnamespace: a.b\ntasks:\n" + "".join(TASK.format(i=i) for i in range(tasks))


def main() -> None:
    import yaml

    from kestra_magic import safe_yaml
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    ways = {"safe_yaml": safe_yaml.load,
            "C": lambda t: yaml.load(t, Loader=yaml.CSafeLoader),
            "pure": yaml.safe_load}
    for name, text, calls in (("10 tasks", flow(10), 50), ("2,000 tasks", flow(2000), 1)):
        assert safe_yaml.load(text) == yaml.safe_load(text)
        times: dict[str, list[float]] = {k: [] for k in ways}
        order = list(ways)
        for r in range(args.rounds):
            for k in order[r % 3:] + order[: r % 3]:
                started = time.perf_counter()
                for _ in range(calls):
                    ways[k](text)
                times[k].append((time.perf_counter() - started) / calls)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{name} ({len(text) // 1024} KB): " + ", ".join(
            f"{k} {med[k] * 1000:.2f} ms ({med[k] / med['C']:.2f} x C)" for k in ways))


if __name__ == "__main__":
    main()
