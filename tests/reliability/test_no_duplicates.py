"""No duplicate executions: connection drops at random points of many create-execution calls
(before the server handled the request, after it, or in the middle of the response).

Each call carries a unique label; the sandbox's store is the truth. Every call created at
most one execution, a call the client reported as a success created exactly that one, and
every call whose connection dropped was reported as ``KestraAmbiguousError`` and sent once
(never silently re-sent), whether the server had processed it or not.
"""
from __future__ import annotations

import random
from collections import Counter

import pytest

from kestra_magic import errors
from tests.reliability.conftest import make_client
from tests.reliability.helpers import create_flow

CALLS = {2: 1000, 1: 300}   # 1,000 on the current generation; a smaller run on 1.x keeps CI fast


def _label(execution: dict, key: str) -> str | None:
    labels = execution.get("labels") or []
    if isinstance(labels, dict):
        return labels.get(key)
    return next((lb.get("value") for lb in labels if lb.get("key") == key), None)


def test_random_drops_never_duplicate_and_are_reported(rsb, ns):
    flow = create_flow(rsb, ns, "once")
    c = make_client(rsb.url, retries=3)   # retries on: a create must still never be re-sent
    assert c.generation == rsb.generation
    rng = random.Random(8)
    n = CALLS[rsb.generation]
    plan = [rng.choice(["ok", "ok", "drop-before", "drop-after", "truncated"]) for _ in range(n)]
    outcome: dict[int, str] = {}
    created_id: dict[int, str] = {}
    for i, what in enumerate(plan):
        if what == "truncated":   # handled, then the response is cut short
            rsb.faults.malformed("truncated", method="POST", path=f"/executions/{ns}/{flow}$")
        elif what != "ok":
            rsb.faults.drop(method="POST", path=f"/executions/{ns}/{flow}$",
                            after_handling=(what == "drop-after"))
        try:
            ex = c.executions.create_execution(ns, flow, labels={"call": str(i)})
            outcome[i], created_id[i] = "created", ex.id
        except errors.KestraAmbiguousError as err:
            assert "\n" not in str(err) and "re-sent" in str(err)
            outcome[i] = "ambiguous"
        except errors.KestraError as err:  # pragma: no cover - reported below with the plan
            outcome[i] = f"{type(err).__name__}: {err}"
        rsb.faults.clear()

    with rsb.store.lock:
        mine = [e for e in rsb.store.executions.values() if e.get("namespace") == ns]
    per_call = Counter(_label(e, "call") for e in mine)
    posted = Counter(r.query.get("labels", [""])[0] for r in rsb.requests
                     if r.method == "POST" and r.path.endswith(f"/executions/{ns}/{flow}"))

    problems = []
    for i, what in enumerate(plan):
        made = per_call.get(str(i), 0)
        if made > 1:
            problems.append(f"call {i} ({what}) created {made} executions")
        if posted.get(f"call:{i}", 0) != 1:
            problems.append(f"call {i} ({what}) was sent {posted.get(f'call:{i}', 0)} times")
        if what == "ok" and not (outcome[i] == "created" and made == 1):
            problems.append(f"call {i} (no fault) -> {outcome[i]}, {made} created")
        if what != "ok" and outcome[i] != "ambiguous":
            problems.append(f"call {i} ({what}) -> {outcome[i]} instead of KestraAmbiguousError")
        if what == "drop-before" and made:
            problems.append(f"call {i} dropped before handling yet created {made}")
        if what in ("drop-after", "truncated") and made != 1:
            problems.append(f"call {i} dropped after handling created {made} (expected 1)")
    assert not problems, f"{len(problems)} problems, first ones: {problems[:10]}"
    assert sum(1 for w in plan if w != "ok") > n // 3   # the faults really happened
