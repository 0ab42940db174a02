"""A durable sandbox (``--data-dir``) keeps everything across ``kill -9`` and restarts.

The sandbox runs as a subprocess on one data dir; it is killed with SIGKILL at random points while
executions run, restarted on the same dir, and every flow revision, execution (state, histories,
task runs), log line and output file acknowledged before the kill is compared with what the
restarted server answers. Interrupted executions end as docs/sandbox.md says (resubmitted task
runs, a paused run still resumable, a scheduled run still firing), and nothing is duplicated.
"""
from __future__ import annotations

import datetime as dt
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import requests

AUTH = ("admin@kestra.io", "Durable-Pw1")
YAML = {"Content-Type": "application/x-yaml"}
FINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"}

QUICK = """id: quick
namespace: durable
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "quick {{ execution.id }}"
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "file of {{ execution.id }}"
"""
SLOW = """id: slow
namespace: durable
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: "before {{ execution.id }}"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.3S
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "slow file of {{ execution.id }}"
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "after {{ execution.id }}"
"""
PAUSE = """id: hold
namespace: durable
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: "resumed {{ execution.id }}"
"""


class Server:
    """``python -m kestra_magic.sandbox --data-dir DIR`` as a subprocess."""

    def __init__(self, data_dir, api: int = 1):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kestra_magic.sandbox", "--data-dir", str(data_dir), "--port", "0",
             "--api", str(api), "--username", AUTH[0], "--password", AUTH[1]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if not match:
            self.proc.kill()
            raise AssertionError(f"sandbox did not start: {line!r} {self.proc.communicate()[1][-3000:]}")
        self.base = match.group(1) + "/api/v1/main"
        self.http = requests.Session()
        self.http.auth = AUTH

    def call(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        return self.http.request(method, self.base + path, **kw)

    def json(self, method: str, path: str, **kw):
        resp = self.call(method, path, **kw)
        assert resp.status_code == 200, (path, resp.status_code, resp.text)
        return resp.json()

    def wait_state(self, execution_id: str, states: set[str], timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            ex = self.json("GET", f"/executions/{execution_id}")
            if ex["state"]["current"] in states:
                return ex
            assert time.monotonic() < deadline, f"{execution_id} stuck in {ex['state']['current']}"
            time.sleep(0.05)

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.http.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill9()


class Ledger:
    """What the server acknowledged, to compare with what it answers after a restart."""

    def __init__(self):
        self.revisions: list = []              # GET /flows/durable/multi/revisions
        self.finished: dict[str, dict] = {}    # id -> {"execution", "logs", "files"}
        self.in_flight: set[str] = set()       # created, not yet seen final (slow, scheduled)
        self.paused: set[str] = set()          # seen PAUSED on its Pause task
        self.resubmitted = 0                   # attempts interrupted by a kill and run again

    def record_final(self, server: Server, ex: dict) -> None:
        ex = server.json("GET", f"/executions/{ex['id']}")
        files = {}
        for tr in ex.get("taskRunList") or []:
            uri = (tr.get("outputs") or {}).get("uri")
            if uri:
                resp = server.call("GET", f"/executions/{ex['id']}/file", params={"path": uri})
                assert resp.status_code == 200, resp.text
                files[uri] = resp.content
        self.finished[ex["id"]] = {"execution": ex, "logs": server.json("GET", f"/logs/{ex['id']}"), "files": files}


def check_no_duplicates(ex: dict, logs: list[dict]) -> None:
    trs = ex.get("taskRunList") or []
    assert len({tr["id"] for tr in trs}) == len(trs), ex["id"]
    keys = Counter((tr["taskId"], tr.get("parentTaskRunId"), tr.get("value")) for tr in trs)
    assert max(keys.values(), default=1) == 1, (ex["id"], keys)
    lines = Counter((lg["timestamp"], lg["message"], lg.get("taskRunId")) for lg in logs)
    assert max(lines.values(), default=1) == 1, (ex["id"], lines.most_common(2))


def verify(server: Server, ledger: Ledger) -> None:
    """Everything acknowledged is there, unchanged; interrupted runs end as documented."""
    assert server.json("GET", "/flows/durable/multi/revisions") == ledger.revisions
    for eid, known in ledger.finished.items():
        ex = server.json("GET", f"/executions/{eid}")
        assert ex == known["execution"], eid
        logs = server.json("GET", f"/logs/{eid}")
        assert logs == known["logs"], eid
        for uri, data in known["files"].items():
            assert server.call("GET", f"/executions/{eid}/file", params={"path": uri}).content == data
    for eid in sorted(ledger.in_flight):   # resubmitted / scheduled runs finish after the restart
        ex = server.wait_state(eid, FINAL)
        assert ex["state"]["current"] == "SUCCESS", ex
        for tr in ex["taskRunList"]:
            attempts = [a["state"]["current"] for a in tr.get("attempts") or []]
            assert attempts[-1] == "SUCCESS" and set(attempts[:-1]) <= {"RESUBMITTED"}, (eid, tr)
        logs = server.json("GET", f"/logs/{eid}")
        check_no_duplicates(ex, logs)
        resubmits = [lg for lg in logs if "RESUBMITTED" in lg["message"]]
        assert len(resubmits) == sum(a["state"]["current"] == "RESUBMITTED"
                                     for tr in ex["taskRunList"] for a in tr.get("attempts") or [])
        ledger.resubmitted += len(resubmits)
        ledger.in_flight.discard(eid)
        ledger.record_final(server, ex)
    for eid in sorted(ledger.paused):      # still paused on its Pause task, and resumable
        ex = server.wait_state(eid, {"PAUSED"})
        assert [tr["state"]["current"] for tr in ex["taskRunList"]] == ["PAUSED"]
        resp = server.call("POST", f"/executions/{eid}/resume")
        assert resp.status_code == 204, resp.text
        ex = server.wait_state(eid, FINAL)
        assert ex["state"]["current"] == "SUCCESS"
        ledger.paused.discard(eid)
        ledger.record_final(server, ex)
    listed = server.json("GET", "/executions/search", params={"namespace": "durable", "size": 1000})
    ids = [e["id"] for e in listed["results"]]
    assert len(ids) == len(set(ids)) == len(ledger.finished) + len(ledger.in_flight) + len(ledger.paused)


def test_kill9_at_random_points_loses_nothing(tmp_path):
    rng = random.Random(1234)
    ledger = Ledger()
    rounds = 20
    server = Server(tmp_path)
    try:
        for source in (QUICK, SLOW, PAUSE):
            assert server.call("POST", "/flows", data=source.encode(), headers=YAML).status_code == 200
        for round_no in range(rounds):
            if round_no:
                server = Server(tmp_path)
                if round_no % 5 == 0:             # killed again while recovery resubmits
                    time.sleep(rng.uniform(0, 0.2))
                    server.kill9()
                    server = Server(tmp_path)
                verify(server, ledger)
            # a new flow revision, source kept byte for byte (comments, unicode, CRLF, trailing blanks)
            source = (f"id: multi\r\nnamespace: durable\r\n# révision {round_no} ✓  \r\ntasks:\r\n"
                      f"  - id: t\r\n    type: io.kestra.plugin.core.debug.Return\r\n    format: \"r{round_no}\"\r\n")
            saved = (server.call("POST", "/flows", data=source.encode(), headers=YAML) if round_no == 0 else
                     server.call("PUT", "/flows/durable/multi", data=source.encode(), headers=YAML))
            assert saved.status_code == 200, saved.text
            ledger.revisions = server.json("GET", "/flows/durable/multi/revisions")
            assert ledger.revisions[-1]["source"] == source and ledger.revisions[-1]["revision"] == round_no + 1
            for _ in range(2):
                ex = server.json("POST", "/executions/durable/quick", params={"wait": "true"})
                assert ex["state"]["current"] == "SUCCESS"
                ledger.record_final(server, ex)
            ledger.in_flight.add(server.json("POST", "/executions/durable/slow")["id"])
            when = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=0.4)).isoformat()
            ledger.in_flight.add(server.json("POST", "/executions/durable/quick", params={"scheduleDate": when})["id"])
            if round_no % 4 == 0:
                paused = server.json("POST", "/executions/durable/hold")["id"]
                server.wait_state(paused, {"PAUSED"})
                ledger.paused.add(paused)
            time.sleep(rng.uniform(0, 0.45))      # the kill lands anywhere in the slow run
            server.kill9()
        server = Server(tmp_path)
        verify(server, ledger)
        assert not ledger.in_flight and not ledger.paused
        assert len(ledger.finished) == rounds * 4 + (rounds + 3) // 4
        assert ledger.resubmitted > 0      # some kills did land while a task ran
    finally:
        server.stop()


def test_five_clients_twenty_runs_each_then_kill9_loses_nothing(tmp_path):
    server = Server(tmp_path, api=2)
    results: dict[str, tuple[str, list[str]]] = {}
    errors: list[BaseException] = []
    try:
        assert server.call("POST", "/flows", data=QUICK.encode(), headers=YAML).status_code == 200

        def client(n: int) -> None:
            http = requests.Session()
            http.auth = AUTH
            try:
                for _ in range(20):
                    resp = http.post(server.base + "/executions/durable/quick", params={"wait": "true"}, timeout=60)
                    assert resp.status_code == 200, resp.text
                    ex = resp.json()
                    logs = http.get(server.base + f"/logs/{ex['id']}", timeout=30).json()
                    results[ex["id"]] = (ex["state"]["current"], [lg["message"] for lg in logs])
            except BaseException as exc:   # reported by the main thread
                errors.append(exc)
        threads = [threading.Thread(target=client, args=(n,)) for n in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors[0]
        assert len(results) == 100 and {state for state, _ in results.values()} == {"SUCCESS"}
        server.kill9()
        server = Server(tmp_path, api=2)
        for eid, (state, messages) in results.items():
            assert server.json("GET", f"/executions/{eid}")["state"]["current"] == state
            assert [lg["message"] for lg in server.json("GET", f"/logs/{eid}")] == messages == [f"quick {eid}"]
        listed = server.json("GET", "/executions/search", params={"namespace": "durable", "size": 1000})
        assert sorted(e["id"] for e in listed["results"]) == sorted(results)
    finally:
        server.stop()


def test_a_second_sandbox_on_the_same_data_dir_is_refused(tmp_path):
    server = Server(tmp_path)
    try:
        with pytest.raises(RuntimeError, match="in use by another sandbox"):
            from kestra_magic.sandbox.store import Store
            Store(2, tmp_path)
    finally:
        server.stop()
