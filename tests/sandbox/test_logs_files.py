"""Logs (list/download/follow) and internal-storage files (download, JSONL, metas, preview)
per generation (kestra-api.md §3-4, kestra-api-2.md §6-7)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kestra_magic.sandbox import files as sbfiles
from kestra_magic.sandbox import ion as sbion
from tests.sandbox.conftest import error_text, flow_yaml
from tests.sandbox.openapi_check import check_schema

LOGS_FLOW = """
tasks:
  - id: dbg
    type: io.kestra.plugin.core.log.Log
    level: DEBUG
    message: debug line
  - id: warn
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: warn line
  - id: err
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: error line
"""


@pytest.fixture
def finished(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "logs", body=LOGS_FLOW))
    return kapi.run(ns, "logs", wait="true")


def _messages(entries):
    return [e["message"] for e in entries]


def test_list_logs_with_generation_filters(kapi, finished):
    eid = finished["id"]
    every = kapi.get(f"/logs/{eid}").json()
    assert _messages(every) == ["debug line", "warn line", "error line"]
    assert all("attemptNumber" in e and e["executionId"] == eid for e in every)
    warn_task = [tr for tr in finished["taskRunList"] if tr["taskId"] == "warn"][0]
    if kapi.gen == 1:
        assert _messages(kapi.get(f"/logs/{eid}", params={"minLevel": "WARN"}).json()) == ["warn line", "error line"]
        assert _messages(kapi.get(f"/logs/{eid}", params={"taskId": "err"}).json()) == ["error line"]
        assert _messages(kapi.get(f"/logs/{eid}", params={"taskRunId": warn_task["id"]}).json()) == ["warn line"]
        assert kapi.get(f"/logs/{eid}", params={"minLevel": "LOUD"}).status_code == 400
    else:
        # 2.x ignores minLevel; filters[...] select
        assert len(kapi.get(f"/logs/{eid}", params={"minLevel": "ERROR"}).json()) == 3
        warn_up = kapi.get(f"/logs/{eid}", params={"filters[level][GREATER_THAN_OR_EQUAL_TO]": "WARN"}).json()
        assert _messages(warn_up) == ["warn line", "error line"]
        assert _messages(kapi.get(f"/logs/{eid}", params={"filters[taskId][EQUALS]": "err"}).json()) == ["error line"]
        assert _messages(kapi.get(f"/logs/{eid}", params={"filters[taskRunId][EQUALS]": warn_task["id"]}).json()) \
            == ["warn line"]
        assert kapi.get(f"/logs/{eid}", params={"filters[color][EQUALS]": "x"}).status_code == 400


def test_download_logs_as_text(kapi, finished):
    eid = finished["id"]
    resp = kapi.get(f"/logs/{eid}/download")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    assert resp.headers["Content-Disposition"] == f"attachment; filename={eid}.log"
    lines = resp.text.split("\n")
    assert len(lines) == 3 and not resp.text.endswith("\n")
    stamp, level, message = lines[1].split(" ", 2)
    assert dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) and level == "WARN" and message == "warn line"


def test_follow_logs_replays_then_streams_live_and_never_ends(kapi, ns):
    body = """
    tasks:
      - id: one
        type: io.kestra.plugin.core.log.Log
        message: one
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.4S
      - id: two
        type: io.kestra.plugin.core.log.Log
        message: two
    """
    kapi.create_flow(flow_yaml(ns, "lf", body=body))
    ex = kapi.run(ns, "lf")
    # start (an empty entry), then the stored and live entries
    events = kapi.sse(f"/logs/{ex['id']}/follow", max_events=3, timeout=10)
    assert [m for m, _ in events] == ["start", "progress", "progress"]
    assert events[0][1] == {}
    assert _messages([d for _, d in events[1:]]) == ["one", "two"]
    for _, data in events[1:]:
        check_schema(data, "FollowLogEvent" if kapi.gen == 2 else "LogEntry", kapi.gen)
    # the execution is over; the stream still does not close by itself
    import requests
    with pytest.raises((requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError), match="timed out"):
        kapi.sse(f"/logs/{ex['id']}/follow", max_events=10, timeout=1.5)


def _seed_files(sb, ns):
    """An execution with an ION output (Kestra typing) and a text file, written straight to the store."""
    eid = sb.store.new_id()
    prefix = f"kestra:///{ns.replace('.', '/')}/seed/executions/{eid}/tasks/q/tr1/"
    rows = [{"id": i, "name": f"n{i}", "amount": Decimal("12.50"), "ratio": 0.5,
             "ts": dt.datetime(2024, 1, 1, 10, tzinfo=dt.timezone.utc),
             "local": sbfiles.annotated("LocalDateTime", "2024-01-01T10:00:00"), "none": None}
            for i in range(150)]
    sb.store.put_file(prefix + "rows.ion", sbfiles.write_ion(rows, sb.generation))
    sb.store.put_file(prefix + "notes.txt", "\n".join(f"line {i}" for i in range(200)).encode())
    sb.store.put_file(prefix + "readme.md", b"# Title\n")
    now = "2024-01-01T10:00:00Z"
    sb.store.save_execution({
        "id": eid, "namespace": ns, "flowId": "seed", "flowRevision": 1, "tenantId": "main",
        "state": {"current": "SUCCESS", "histories": [{"state": "CREATED", "date": now},
                                                      {"state": "SUCCESS", "date": now}]},
        "originalId": eid, "deleted": False, "metadata": {"attemptNumber": 1, "originalCreatedDate": now},
        "taskRunList": [{"id": "tr1", "taskId": "q", "executionId": eid, "namespace": ns, "flowId": "seed",
                         "state": {"current": "SUCCESS", "histories": [{"state": "SUCCESS", "date": now}]},
                         "outputs": {"uri": prefix + "rows.ion"}}]})
    return eid, prefix


def test_ion_is_text_on_1x_binary_on_2x(kapi, ns):
    eid, prefix = _seed_files(kapi.sb, ns)
    raw = kapi.get(f"/executions/{eid}/file", params={"path": prefix + "rows.ion"})
    assert raw.status_code == 200 and raw.headers["Content-Type"] == "application/octet-stream"
    if kapi.gen == 1:
        first = raw.content.split(b"\n")[0]
        assert first.startswith(b"{id:0,") and b'LocalDateTime::"2024-01-01T10:00:00"' in first
        assert b"amount:12.50" in first and b"ts:2024-01-01T10:00:00" in first
    else:
        assert raw.content.startswith(sbion.ION_BINARY_MARKER)
        assert raw.content.count(sbion.ION_BINARY_MARKER) == 150   # one binary stream per row


def test_download_jsonl_on_2x(kapi2, ns):
    eid, prefix = _seed_files(kapi2.sb, ns)
    resp = kapi2.get(f"/executions/{eid}/file", params={"path": prefix + "rows.ion", "format": "JSONL"})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/x-ndjson"
    import json
    rows = [json.loads(l) for l in resp.text.splitlines()]
    assert len(rows) == 150
    assert rows[3] == {"id": 3, "name": "n3", "amount": 12.5, "ratio": 0.5, "ts": "2024-01-01T10:00:00.000Z",
                       "local": "2024-01-01T10:00:00", "none": None}
    assert kapi2.get(f"/executions/{eid}/file", params={"path": prefix + "rows.ion", "format": "XML"}).status_code == 400


def test_metas_and_preview(kapi, ns):
    eid, prefix = _seed_files(kapi.sb, ns)
    size = kapi.get(f"/executions/{eid}/file/metas", params={"path": prefix + "notes.txt"}).json()["size"]
    assert size == len("\n".join(f"line {i}" for i in range(200)).encode())
    ion = kapi.get(f"/executions/{eid}/file/preview", params={"path": prefix + "rows.ion", "maxRows": 100}).json()
    assert ion["type"] == "LIST" and ion["extension"] == "ion" and len(ion["content"]) == 100 and ion["truncated"]
    assert ion["content"][1]["name"] == "n1" and ion["content"][1]["amount"] == 12.5
    small = kapi.get(f"/executions/{eid}/file/preview", params={"path": prefix + "rows.ion", "maxRows": 500}).json()
    assert len(small["content"]) == 150 and small["truncated"] is False
    text = kapi.get(f"/executions/{eid}/file/preview", params={"path": prefix + "notes.txt", "maxRows": 3}).json()
    assert text == {"extension": "txt", "type": "TEXT", "content": "line 0\nline 1\nline 2", "maxLine": 3,
                    "truncated": True}
    md = kapi.get(f"/executions/{eid}/file/preview", params={"path": prefix + "readme.md", "maxRows": 10}).json()
    assert md["type"] == "MARKDOWN" and md["content"] == "# Title"
    enc = kapi.get(f"/executions/{eid}/file/preview", params={"path": prefix + "notes.txt", "maxRows": 3,
                                                              "encoding": "NOPE-9"})
    assert enc.status_code == 422


def test_file_path_checks(kapi, ns):
    eid, prefix = _seed_files(kapi.sb, ns)
    other, other_prefix = _seed_files(kapi.sb, ns)
    assert kapi.get(f"/executions/{eid}/file", params={"path": prefix + "absent.csv"}).status_code == 404
    wrong = kapi.get(f"/executions/{eid}/file", params={"path": "kestra:///elsewhere/x.txt"})
    assert wrong.status_code == 422 and "Invalid prefix path" in error_text(wrong)
    assert kapi.get(f"/executions/{eid}/file", params={"path": "/etc/passwd"}).status_code == 422
    assert kapi.get(f"/executions/{eid}/file", params={"path": prefix + "../../../../../../../etc/passwd"}
                    ).status_code == 422
    assert kapi.get(f"/executions/{eid}/file").status_code == 400
    assert kapi.get("/executions/nope/file", params={"path": prefix + "rows.ion"}).status_code == 404
    moved = kapi.get(f"/executions/{eid}/file", params={"path": other_prefix + "notes.txt"}, allow_redirects=False)
    assert moved.status_code == 301 and f"/executions/{other}/file" in moved.headers["Location"]
    follow = kapi.get(f"/executions/{eid}/file", params={"path": other_prefix + "notes.txt"})
    assert follow.status_code == 200 and follow.content.startswith(b"line 0")


def test_unicode_file_names_and_odd_ids_download(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "uni", inputs="inputs:\n  - id: up\n    type: FILE\n"))
    ex = kapi.run(ns, "uni", files=[("up", ("données \"été\".csv", b"x,y\n"))])
    uri = ex["inputs"]["up"]
    assert uri.endswith("/inputs/up/données \"été\".csv")
    resp = kapi.get(f"/executions/{ex['id']}/file", params={"path": uri}, timeout=10)
    assert resp.status_code == 200 and resp.content == b"x,y\n"
    assert "filename*=UTF-8''donn%C3%A9es%20%22%C3%A9t%C3%A9%22.csv" in resp.headers["Content-Disposition"]
    odd = kapi.http.get(kapi.base + "/api/v1/main/logs/%C3%8F%01%C2%88x/download", timeout=10)
    assert odd.status_code == 200 and odd.text == ""
