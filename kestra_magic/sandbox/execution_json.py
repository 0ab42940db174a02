"""The JSON text of an execution as GET /executions/{id} and its follow stream answer it, rebuilt
only for what changed since the last call.

A client waiting for a big execution polls GET or follows SSE while the engine runs it; shaping
and serializing every task run at each poll made a 20,000-task-run Loop cost quadratic time.
Here each task run is serialized once per change (the store's ``change_stamps`` say which ones
moved) and the answer is the join of those fragments; one answer per store version is shared by
every poller and follower of the same shape. Built under the store lock (fragments share nothing
mutable afterwards: they are bytes).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from kestra_magic.sandbox import shapes
from kestra_magic.sandbox.states import TERMINAL

KEEP = 8   # cached shapes (execution x generation x form) kept per store; the oldest goes first


@dataclass
class View:
    """One execution's JSON as of a store version."""
    body: bytes                 # the execution JSON (compact, as http.json_response writes it)
    done: bool                  # the follow stop condition: execution and every task run terminated
    version: int                # store version it was read at
    changes: int                # increases whenever ``body`` changed (compare instead of the text)


@dataclass
class _Cache:
    epoch: int
    stamps: list[int] = field(default_factory=list)
    frags: list[bytes] = field(default_factory=list)
    open: set[int] = field(default_factory=set)    # positions of task runs not terminated
    view: View | None = None


def _dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def render(store, execution_id: str, generation: int, form: str) -> View | None:
    """The execution's JSON in ``form`` (``shapes.execution``'s forms: full, api, core), or None
    when it is unknown or deleted."""
    with store.lock:
        ex = store.executions.get(execution_id)
        if ex is None or ex.get("deleted"):
            return None
        key = (execution_id, generation, form)
        cache: _Cache | None = store.views.pop(key, None)
        if cache is not None and cache.view is not None and cache.view.version == store.version:
            store.views[key] = cache
            return cache.view
        epoch, stamps = store.change_stamps(execution_id)
        trl = ex.get("taskRunList") or []
        previous = cache.view if cache is not None else None
        if cache is None or cache.epoch != epoch or len(cache.stamps) > len(stamps):
            cache = _Cache(epoch)
        have = len(cache.stamps)
        for pos in [p for p, (a, b) in enumerate(zip(cache.stamps, stamps)) if a != b] + list(range(have, len(stamps))):
            tr = list.__getitem__(trl, pos)
            frag = _dumps(shapes.task_run(tr, generation, form))
            if pos < have:
                cache.frags[pos] = frag
                cache.stamps[pos] = stamps[pos]
            else:
                cache.frags.append(frag)
                cache.stamps.append(stamps[pos])
            if (tr.get("state") or {}).get("current") in TERMINAL:
                cache.open.discard(pos)
            else:
                cache.open.add(pos)
        head = shapes.execution({k: v for k, v in ex.items() if k != "taskRunList"}, generation, form)
        body = _dumps(head)
        if cache.frags:
            body = body[:-1] + b',"taskRunList":[' + b",".join(cache.frags) + b"]}"
        changes = 0 if previous is None else previous.changes + (previous.body != body)
        done = (ex.get("state") or {}).get("current") in TERMINAL and not cache.open
        cache.view = View(body, done, store.version, changes)
        store.views[key] = cache
        while len(store.views) > KEEP:
            store.views.pop(next(iter(store.views)))
        return cache.view
