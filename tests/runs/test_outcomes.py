"""The outcome policy is one table (``kestra_magic.models.OUTCOMES``), and scripts and sweeps
apply it alike to every Kestra state (the magics' side: tests/notebook/test_run_outcomes.py)."""
from __future__ import annotations

import pytest

import kestra_magic as km
from kestra_magic.errors import KestraTimeout
from kestra_magic.models import OUTCOMES, State, outcome
from kestra_magic.runs import ExecutionFailed

from .helpers import HELD, LATER, PAUSING, serve_state

ALL_STATES = ["CREATED", "SUBMITTED", "QUEUED", "RUNNING", "PAUSED", "BREAKPOINT", "RESTARTED", "KILLING",
              "RETRYING", "SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED",
              "RESUBMITTED"]


def test_the_table_covers_every_kestra_state_once():
    # the 17 values of Kestra's State.Type (../shared/kestra/kestra-api.md 2.4)
    assert sorted(OUTCOMES) == sorted(ALL_STATES)
    assert {s for s, o in OUTCOMES.items() if o == "failure"} == {"FAILED", "KILLED", "CANCELLED"}
    assert {s for s, o in OUTCOMES.items() if o == "paused"} == {"PAUSED", "BREAKPOINT"}
    assert {s for s, o in OUTCOMES.items() if o == "success"} == {"SUCCESS", "WARNING", "SKIPPED", "RETRIED",
                                                                   "RESUBMITTED"}
    for name in ALL_STATES:
        st = State(name)
        assert st.outcome == outcome(name) == OUTCOMES[name]
        assert st.is_terminal == (OUTCOMES[name] in ("success", "failure"))
        assert st.is_failed == (OUTCOMES[name] == "failure")
    assert outcome("SOMETHING_NEW") == "running" and outcome(None) == "running"


@pytest.mark.parametrize("state", ALL_STATES)
def test_scripts_apply_the_table(c2, sandbox_v2, ns, state):
    c2.flows.create_flow(HELD.format(ns=ns))
    flip = serve_state(sandbox_v2, ns, "held", state)
    kind = OUTCOMES[state]
    if kind == "failure":
        with pytest.raises(ExecutionFailed) as err:
            c2.run(f"{ns}.held", schedule_date=LATER, timeout=15)
        run = err.value.run
        assert f"ended {state}" in str(err.value) and "km.last_run()" in str(err.value)
    elif kind == "success":
        run = c2.run(f"{ns}.held", schedule_date=LATER, timeout=15)
    else:   # still running or waiting for a person: waiting ends only by the timeout
        with pytest.raises(KestraTimeout) as err:
            c2.run(f"{ns}.held", schedule_date=LATER, timeout=1.5)
        assert f"still {state}" in str(err.value)
        run = km.last_run()
    flip.join(5)
    assert run is km.last_run() and run.state == state and run.outcome == kind
    assert run.is_failed == (kind == "failure") and run.is_paused == (kind == "paused")
    # raise_on_failure=False never raises; raise_for_outcome applies the same table afterwards
    if kind == "failure":
        with pytest.raises(ExecutionFailed):
            run.raise_for_outcome()
    else:
        assert run.raise_for_outcome() is run


@pytest.mark.parametrize("state", ALL_STATES)
def test_sweeps_apply_the_table(c2, sandbox_v2, ns, state):
    c2.flows.create_flow(PAUSING.format(ns=ns))
    serve_state(sandbox_v2, ns, "pausing", state, when="PAUSED", count=2)
    seen = []
    kind = OUTCOMES[state]
    timeout = 30 if kind in ("success", "failure") else 1.2
    df = c2.sweep(f"{ns}.pausing", [{}, {}], timeout=timeout, on_progress=seen.append, poll_interval=0.1)
    assert df["state"].astype(str).tolist() == [state, state]
    last = seen[-1]
    assert last.failed == (2 if kind == "failure" else 0)
    assert last.finished == (2 if kind in ("success", "failure") else 0)
    if kind == "success":
        assert df["error"].isna().all()
    elif kind == "failure":     # a failed row says how it ended (and where, when a task failed)
        assert all(e.startswith(state) for e in df["error"]), df["error"].tolist()
    else:
        assert all(f"still {state}" in e for e in df["error"])
