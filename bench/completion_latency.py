"""Completion latency in a Kestra cell vs IPython's own completion of a Python name, same shell.

Starts a sandbox (Kestra 2.x emulation) on 127.0.0.1, loads the extension in an InteractiveShell,
registers Kestra completion and warms its catalog (plugin list, flows, one type's schema), then
times ``ip.Completer.completions(cell, offset)`` (what ipykernel's complete_request runs) for each
case, interleaved in rounds so machine noise hits all alike, and prints p50/p95 side by side:

    python     `import collections; collections.Orde|`      IPython's own (jedi) completion
    type       `type: io.kestra.plugin.core.lo|` in a 40-task %%kestra_flow cell
    property   a task property key in the same cell
    expression `{{ outputs.t12.| }}` in the same cell
    run        `%kestra_run ns.|`

Goal: p95 <= 50 ms with a warm cache for every Kestra case.
Usage: python bench/completion_latency.py [--calls 50] [--rounds 5] [--api 2]
"""
from __future__ import annotations

import argparse
import statistics
import time


def _cell(n_tasks: int, tail: str) -> str:
    tasks = "".join(f"  - id: t{i}\n    type: io.kestra.plugin.core.debug.Return\n    format: v{i}\n"
                    for i in range(n_tasks))
    return ("%%kestra_flow\nid: bench\nnamespace: bench.ns\ninputs:\n  - id: name\n    type: STRING\n"
            "tasks:\n" + tasks + tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--api", type=int, default=2, choices=(1, 2))
    args = parser.parse_args()

    from IPython.core.completer import provisionalcompleter
    from IPython.core.interactiveshell import InteractiveShell

    import kestra_magic as km
    from kestra_magic.notebook import completion
    from kestra_magic.sandbox import Sandbox

    with Sandbox(api=args.api, auth=False) as sb:
        km.configure(url=sb.url)
        km.client().flows.create_flow("id: hello\nnamespace: bench.ns\ntasks:\n  - id: a\n"
                                      "    type: io.kestra.plugin.core.log.Log\n    message: x\n")
        ip = InteractiveShell.instance()
        ip.history_manager.enabled = False
        ip.run_line_magic("load_ext", "kestra_magic")
        completion.register(ip)
        cases = {
            "python": "import collections; collections.Orde",
            "type": _cell(40, "  - id: new\n    type: io.kestra.plugin.core.lo"),
            "property": _cell(40, "  - id: new\n    type: io.kestra.plugin.core.log.Log\n    lev"),
            "expression": _cell(40, "  - id: new\n    type: io.kestra.plugin.core.log.Log\n"
                                    "    message: \"{{ outputs.t12."),
            "run": "%kestra_run bench.",
        }
        ip.run_cell("import collections")

        def once(text: str) -> list:
            with provisionalcompleter():
                return list(ip.Completer.completions(text, len(text)))

        for name, text in cases.items():      # warm: catalog, schemas, jedi's caches
            found = once(text)
            assert found, f"{name}: no completion"
        samples: dict[str, list[float]] = {name: [] for name in cases}
        names = list(cases)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                for _ in range(args.calls):
                    started = time.perf_counter()
                    once(cases[name])
                    samples[name].append((time.perf_counter() - started) * 1000)
        base = statistics.median(samples["python"])
        print(f"{'case':<11} {'p50 ms':>8} {'p95 ms':>8} {'p50 / python':>13}")
        for name in names:
            s = sorted(samples[name])
            p50, p95 = statistics.median(s), s[int(0.95 * (len(s) - 1))]
            goal = "" if name == "python" else ("  ok (<= 50 ms)" if p95 <= 50 else "  OVER 50 ms")
            print(f"{name:<11} {p50:8.2f} {p95:8.2f} {p50 / base:13.2f}{goal}")
        completion.unregister(ip)


if __name__ == "__main__":
    main()
