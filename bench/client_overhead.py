"""Per-call overhead of kestra-magic's client vs a raw requests.Session (and vs kestrapy).

Starts a sandbox (Kestra 2.x emulation) on 127.0.0.1, creates one finished execution, then
times the same GET of that execution three ways, interleaved in rounds (rotating who goes
first) so that machine noise hits all three alike, and prints the medians and ratios side by side:

    raw      requests.Session().get(url).json()
    magic    KestraClient(...).executions.get_execution(id)   (goal: <= 1.10 x raw)
    kestrapy kestrapy.KestraClient(...).executions.execution(id, "main")

Usage: python bench/client_overhead.py [--calls 200] [--rounds 7] [--api 2]
"""
from __future__ import annotations

import argparse
import warnings
import statistics
import time


def _time_calls(fn, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--api", type=int, default=2, choices=(1, 2))
    args = parser.parse_args()
    warnings.simplefilter("ignore")   # kestrapy's pydantic models warn on import

    import requests

    from kestra_magic.runs import KestraClient
    from kestra_magic.config import Configuration
    from kestra_magic.sandbox import Sandbox

    with Sandbox(api=args.api, auth=False) as sb:
        magic = KestraClient(Configuration(url=sb.url))
        magic.flows.create_flow("id: bench\nnamespace: bench.ns\ntasks:\n"
                                "  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n")
        execution = magic.executions.create_execution("bench.ns", "bench", wait=True)
        url = f"{sb.url}/api/v1/main/executions/{execution.id}"
        raw = requests.Session()

        contenders = {
            "raw requests.Session": lambda: raw.get(url, timeout=(10, 60)).json(),
            "kestra-magic": lambda: magic.executions.get_execution(execution.id),
        }
        try:
            import kestrapy
            kp = kestrapy.KestraClient(host=sb.url)
            contenders["kestrapy (official SDK)"] = lambda: kp.executions.execution(execution.id, "main")
        except Exception as exc:  # pragma: no cover - the SDK is a test extra
            print(f"(kestrapy unavailable: {exc})")

        for fn in contenders.values():       # warm up connections and caches
            _time_calls(fn, 20)
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        order = list(contenders)
        for round_no in range(args.rounds):
            shift = round_no % len(order)          # rotate who goes first: no position bias
            for name in order[shift:] + order[:shift]:
                samples[name].append(_time_calls(contenders[name], args.calls))

        base = statistics.median(samples["raw requests.Session"])
        best_base = min(samples["raw requests.Session"])
        print(f"GET one execution, Kestra {args.api}.x sandbox, {args.rounds} rounds x {args.calls} calls "
              f"(per call: median of rounds, and best round — the best is the least disturbed by load)")
        print(f"{'client':<26}{'median':>10}{'vs raw':>9}{'best':>10}{'vs raw':>9}")
        for name, values in samples.items():
            median, best = statistics.median(values), min(values)
            print(f"{name:<26}{median * 1e6:>7.0f} us{median / base:>8.2f}x{best * 1e6:>7.0f} us"
                  f"{best / best_base:>8.2f}x")
        ratio = statistics.median(samples["kestra-magic"]) / base
        print(f"kestra-magic overhead vs raw (median): {ratio:.2f}x (goal <= 1.10x): "
              f"{'OK' if ratio <= 1.10 else 'OVER'}")
        magic.close()


if __name__ == "__main__":
    main()
