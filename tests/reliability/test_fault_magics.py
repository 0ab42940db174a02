"""The fault matrix seen from a notebook: each failure prints one line (no traceback), still
fails the cell (so "Run all" stops), and the kernel keeps working afterwards."""
from __future__ import annotations

import pytest

from tests.reliability.conftest import make_client
from tests.reliability.helpers import create_flow, executions_of, free_port


@pytest.fixture
def cell(ip, capsys):
    """run(code) -> (result, printed text); the shared client is reset afterwards."""
    import kestra_magic
    from kestra_magic.config import Configuration

    def run(code: str):
        result = ip.run_cell(code, store_history=False)
        captured = capsys.readouterr()
        return result, captured.out + captured.err
    yield run
    kestra_magic.configure(Configuration(url="http://127.0.0.1:9"))


def use(url: str, **kw):
    import kestra_magic
    from kestra_magic.config import Configuration
    kestra_magic.configure(make_client(url, **kw).configuration)


def failed_in_one_line(result, printed: str, *words: str) -> str:
    assert not result.success, "the cell must fail so that Run all / papermill stop"
    lines = [ln for ln in printed.splitlines() if ln.strip()]
    assert "Traceback" not in printed and "File \"" not in printed, printed
    assert len(lines) == 1, printed
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    return lines[0]


def kernel_still_works(run):
    result, _ = run("__answer = 40 + 2\n__answer")
    assert result.success and result.result == 42


def test_refused_in_a_magic(cell):
    use(f"http://127.0.0.1:{free_port()}", api_generation=2)
    failed_in_one_line(*cell("%kestra_run company.team.hello"), "KESTRA_URL")
    kernel_still_works(cell)


def test_401_in_a_magic(cell, auth_sandbox):
    use(auth_sandbox.url)
    failed_in_one_line(*cell("%kestra_flows"), "401", "KESTRA_USERNAME")
    kernel_still_works(cell)


def test_404_422_in_magics(cell, rsb, ns):
    use(rsb.url)
    failed_in_one_line(*cell(f"%kestra_run {ns}.no-such-flow"), "not found")
    bad = f"%%kestra_flow\nid: bad\nnamespace: {ns}\ntasks:\n  - id: a\n    type: io.kestra.no.SuchTask\n"
    failed_in_one_line(*cell(bad), "tasks[0].type", "io.kestra.no.SuchTask")
    kernel_still_works(cell)


def test_gateway_error_on_create_in_a_magic(cell, rsb, ns):
    fl = create_flow(rsb, ns)
    use(rsb.url)
    rsb.faults.fail(502, method="POST", path=f"/executions/{ns}/{fl}",
                    body=b"<html><body>Bad Gateway</body></html>", content_type="text/html")
    line = failed_in_one_line(*cell(f"%kestra_run {ns}.{fl}"), "not re-sent")
    assert "<html" not in line
    assert executions_of(rsb, ns, fl) == []
    kernel_still_works(cell)
    # and once the fault is gone the same magic works in the same kernel
    result, printed = cell(f"ex = %kestra_run {ns}.{fl}")
    assert result.success, printed
    assert cell("ex.state")[0].result == "SUCCESS"


def test_dropped_connection_on_create_in_a_magic(cell, rsb, ns):
    fl = create_flow(rsb, ns)
    use(rsb.url)
    rsb.faults.drop(method="POST", path=f"/executions/{ns}/{fl}", after_handling=True)
    failed_in_one_line(*cell(f"%kestra_run {ns}.{fl}"), "not re-sent", "check")
    assert len(executions_of(rsb, ns, fl)) == 1   # created once, never re-sent
    kernel_still_works(cell)


PROBLEM = "https://kestra.io/docs/api-reference/problems/"


@pytest.mark.parametrize("fault,words", [
    (lambda f: f.fail(403, times=9, method="GET", path="/flows",
                      body={"type": PROBLEM + "forbidden", "title": "Access denied", "status": 403}), ["403"]),
    (lambda f: f.fail(409, times=9, method="GET", path="/flows", body={"message": "Illegal state: nope"}), ["409"]),
    (lambda f: f.fail(500, times=9, method="GET", path="/flows",
                      body={"type": PROBLEM + "internal-error", "title": "Internal error", "status": 500,
                            "traceId": "abc123trace"}, content_type="application/problem+json"), ["500"]),
    (lambda f: f.fail(503, times=9, method="GET", path="/flows"), ["503"]),
    (lambda f: f.malformed("invalid-json", times=9, method="GET", path="/flows"), ["JSON"]),
    (lambda f: f.malformed("html", times=9, method="GET", path="/flows"), ["JSON"]),
    (lambda f: f.drop(times=9, method="GET", path="/flows"), ["connection"]),
    (lambda f: f.latency(1.2), ["read_timeout"]),
], ids=["403", "409", "500", "503", "invalid-json", "html", "drop", "timeout"])
def test_server_faults_in_a_magic(cell, rsb, fault, words):
    use(rsb.url, read_timeout=0.5, retries=1)
    import kestra_magic
    assert kestra_magic.client().generation == rsb.generation   # probe before arming the fault
    fault(rsb.faults)
    line = failed_in_one_line(*cell("%kestra_flows"), *words)
    assert "<" not in line
    rsb.faults.clear()
    kernel_still_works(cell)
    result, printed = cell("%kestra_flows")
    assert result.success, printed
