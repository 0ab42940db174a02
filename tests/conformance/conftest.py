"""Conformance to Kestra's own tests: fixtures and the pass ratio per group.

Mark every conformance test with its group, ``@pytest.mark.conformance("runner")`` (runner
behaviours), ``("examples")`` (documented full examples) or ``("pebble")`` (the Pebble table);
a test where the sandbox knowingly differs from Kestra also carries
``@pytest.mark.differs("reason")``, asserts what the sandbox does, and is listed in
docs/sandbox.md. At the end of the session a summary prints, per group, how many tests pass
and how many of them are known differences.
"""
from __future__ import annotations

from collections import defaultdict

import pytest

from tests.conformance.harness import EngineHarness

_groups: dict[str, str] = {}          # nodeid -> group
_differs: set[str] = set()
_outcomes: dict[str, str] = {}        # nodeid -> passed/failed


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "conformance(group): a conformance test of the group runner|examples|pebble")
    config.addinivalue_line("markers", "differs(reason): the sandbox knowingly differs from Kestra here")


def pytest_collection_modifyitems(session, config, items) -> None:
    for item in items:
        marker = item.get_closest_marker("conformance")
        if marker is not None:
            _groups[item.nodeid] = marker.args[0] if marker.args else marker.kwargs.get("group", "runner")
            if item.get_closest_marker("differs") is not None:
                _differs.add(item.nodeid)


def pytest_runtest_logreport(report) -> None:
    if report.nodeid not in _groups:
        return
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.when == "call" and report.passed:
        _outcomes.setdefault(report.nodeid, "passed")


def pytest_terminal_summary(terminalreporter) -> None:
    if not _outcomes:
        return
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])   # passed, run, knowingly differ
    for nodeid, outcome in _outcomes.items():
        row = counts[_groups[nodeid]]
        row[1] += 1
        if outcome == "passed":
            row[0] += 1
        if nodeid in _differs:
            row[2] += 1
    terminalreporter.section("Kestra conformance")
    for group, (passed, run, differ) in sorted(counts.items()):
        as_kestra = passed - differ
        terminalreporter.write_line(
            f"{group:>9}: {passed}/{run} pass ({100.0 * passed / run:.1f} %); "
            f"{as_kestra}/{run} as Kestra asserts ({100.0 * as_kestra / run:.1f} %), "
            f"{differ} known difference(s) listed in docs/sandbox.md")


@pytest.fixture(params=[1, 2], ids=["1.x", "2.x"])
def engine(request):
    """A Store + Engine of each generation (the flow under test must be valid on both)."""
    h = EngineHarness(request.param)
    yield h
    h.close()


@pytest.fixture
def engine1():
    """A 1.x Store + Engine (task types Kestra 2.0 removed)."""
    h = EngineHarness(1)
    yield h
    h.close()


@pytest.fixture
def engine2():
    h = EngineHarness(2)
    yield h
    h.close()
