"""%kestra_run applies the one outcome table (kestra_magic.models.OUTCOMES) to every Kestra state:
failures fail the cell in one line, paused runs return with the view live, running ones time out."""
from __future__ import annotations

import pytest

import kestra_magic as km
from kestra_magic.models import OUTCOMES
from kestra_magic.runs import Run

from tests.runs.helpers import HELD, LATER, serve_state


@pytest.mark.parametrize("state", sorted(OUTCOMES))
def test_magic_applies_the_table(kb, ns, state):
    kb.run(f"%%kestra_flow\n{HELD.format(ns=ns)}")
    flip = serve_state(kb.sb, ns, "held", state)
    kind = OUTCOMES[state]
    line = f"%kestra_run {ns}.held --schedule-date {LATER}"
    if kind == "failure":
        failed = kb.fails(line + " --timeout 15")
        assert f"ended {state}" in str(failed.error) and failed.error.kind == "ExecutionFailed"
        assert failed.output.strip().splitlines()[-1].startswith("ExecutionFailed: execution ")
        run = km.last_run()
    elif kind == "success":
        run = kb.run(line + " --timeout 15")
    elif kind == "paused":
        run = kb.run(line + " --timeout 15")
        assert f"{state}: resume with" in kb.out
    else:
        failed = kb.fails(line + " --timeout 1.5")
        assert "still running after 1.5 s" in str(failed.error)
        run = km.last_run()
    flip.join(5)
    assert type(run) is Run and run is km.last_run() and run.state == state and run.outcome == kind
