"""Task types of the sandbox over real HTTP, on both generations: OutputValues, storage.Write,
python/shell scripts as local processes, serdes converters and DuckDB queries (issue 3)."""
from __future__ import annotations

import io
import json
import sys
import time

import pytest

from tests.sandbox.test_engine import Api  # the shared plain-requests helper

ION_BINARY = b"\xe0\x01\x00\xea"


@pytest.fixture
def api(sandbox, ns):
    return Api(sandbox, ns)


def read_ion(data: bytes) -> list:
    from amazon.ion import simpleion
    return list(simpleion.loads(data, single_value=False))


def assert_ion_generation(api: Api, data: bytes, per_row: bool = True) -> None:
    """Text Ion one row per line on 1.x; binary on 2.x: a stream per row (FileSerde.write, JDBC)
    or one stream (FileSerde.writeAll, the serdes converters)."""
    if api.gen == 1:
        assert not data.startswith(ION_BINARY)
        assert data.decode().count("\n") == len(read_ion(data))
    else:
        assert data.startswith(ION_BINARY)
        assert data.count(ION_BINARY) == (len(read_ion(data)) if per_row else 1)


def test_output_values_write_and_read(api):
    api.deploy("""
id: ov
namespace: NS
tasks:
  - id: vals
    type: io.kestra.plugin.core.output.OutputValues
    values:
      name: "{{ flow.id }}"
      n: 3
      arr: [1, "two"]
      obj:
        k: v
  - id: w
    type: io.kestra.plugin.core.storage.Write
    content: "hello {{ outputs.vals.values.name }}"
    extension: .txt
  - id: back
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(outputs.w.uri) | upper }} {{ outputs.vals.values.arr[1] }} {{ outputs.vals.values.obj.k }}"
""")
    ex = api.run("ov")
    assert ex["state"]["current"] == "SUCCESS"
    assert api.outputs(ex, "vals") == {"values": {"name": "ov", "n": 3, "arr": [1, "two"], "obj": {"k": "v"}}}
    uri = api.outputs(ex, "w")["uri"]
    assert uri.startswith(f"kestra:///{api.ns.replace('.', '/')}/ov/executions/{ex['id']}/tasks/w/")
    assert uri.endswith(".txt")
    assert api.file(ex["id"], uri) == b"hello ov"
    assert api.outputs(ex, "back") == {"value": "HELLO OV two v"}


PY_SCRIPT = """
id: py
namespace: NS
inputs:
  - id: factor
    type: INT
    defaults: 3
tasks:
  - id: script
    type: io.kestra.plugin.scripts.python.Script
    containerImage: python:3.11-slim
    beforeCommands:
      - echo before > before.txt
    env:
      GREETING: "hi {{ inputs.factor }}"
    inputFiles:
      data.txt: "1,2,3"
    outputFiles:
      - "*.csv"
    script: |
      import os
      from kestra import Kestra
      nums = [int(x) * {{ inputs.factor }} for x in open("data.txt").read().split(",")]
      print("nums", nums)
      with open("out.csv", "w") as f:
          f.write("n\\n" + "\\n".join(map(str, nums)) + "\\n")
      Kestra.outputs({"total": sum(nums), "greeting": os.environ["GREETING"],
                      "before": open("before.txt").read().strip()})
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.script.vars.total }} {{ outputs.script.outputFiles['out.csv'] }}"
"""


def test_python_script_vars_files_logs(api):
    api.deploy(PY_SCRIPT)
    ex = api.run("py")
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    out = api.outputs(ex, "script")
    assert out["exitCode"] == 0
    assert out["vars"] == {"total": 18, "greeting": "hi 3", "before": "before"}
    assert list(out["outputFiles"]) == ["out.csv"]
    assert api.file(ex["id"], out["outputFiles"]["out.csv"]) == b"n\n3\n6\n9\n"
    assert api.outputs(ex, "after")["value"] == f"18 {out['outputFiles']['out.csv']}"
    logs = [(l["level"], l["message"]) for l in api.logs(ex["id"]) if l.get("taskId") == "script"]
    assert ("INFO", "nums [3, 6, 9]") in logs
    assert not any("::{" in m for _, m in logs)           # the outputs protocol is not logged
    assert any("containerImage 'python:3.11-slim' is ignored" in m for _, m in logs)


def test_python_commands_stderr_exit_code_and_read_of_uris(api):
    api.deploy("""
id: cmd
namespace: NS
inputs:
  - id: code
    type: INT
  - id: warn
    type: BOOL
    defaults: true
tasks:
  - id: w
    type: io.kestra.plugin.core.storage.Write
    content: "stored text"
    extension: .txt
  - id: cmds
    type: io.kestra.plugin.scripts.python.Commands
    warningOnStdErr: "{{ inputs.warn }}"
    inputFiles:
      main.py: |
        import sys
        print(open(sys.argv[1]).read())
        print("oops", file=sys.stderr)
        sys.exit(int(sys.argv[2]))
    commands:
      - python main.py {{ outputs.w.uri }} {{ inputs.code }}
""")
    ex = api.run("cmd", {"code": "0"})
    assert ex["state"]["current"] == "WARNING"
    logs = [(l["level"], l["message"]) for l in api.logs(ex["id"]) if l.get("taskId") == "cmds"]
    assert ("INFO", "stored text") in logs and ("WARN", "oops") in logs
    ex = api.run("cmd", {"code": "0", "warn": "false"})
    assert ex["state"]["current"] == "SUCCESS"
    ex = api.run("cmd", {"code": "3"})
    assert ex["state"]["current"] == "FAILED"
    cmds = api.task_runs(ex, "cmds")[0]
    assert cmds["state"]["current"] == "FAILED"
    if api.gen == 1:
        assert cmds["outputs"]["exitCode"] == 3
    assert any(l["message"] == "Command failed with exit code 3" and l["level"] == "ERROR"
               for l in api.logs(ex["id"]))


def test_kill_stops_a_running_script_process(api, tmp_path):
    marker = tmp_path / "alive.txt"
    api.deploy(f"""
id: longpy
namespace: NS
tasks:
  - id: s
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - sleep 0.3
      - echo started
      - sleep 20
      - echo survived > {marker}
""")
    ex = api.start("longpy")
    deadline = time.monotonic() + 10
    while not any(l["message"] == "started" for l in api.logs(ex["id"])):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    api.action("DELETE", ex["id"], "kill")
    killed = api.wait(ex["id"], timeout=5)
    assert time.monotonic() - started < 2
    assert killed["state"]["current"] == "KILLED"
    assert api.task_runs(killed, "s")[0]["state"]["current"] == "KILLED"
    assert not marker.exists()


DATA_FLOW = """
id: data
namespace: NS
inputs:
  - id: orders
    type: FILE
tasks:
  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{ inputs.orders }}"
  - id: query
    type: io.kestra.plugin.jdbc.duckdb.Query
    inputFiles:
      orders.csv: "{{ inputs.orders }}"
    sql: |
      SELECT customer,
             CAST(SUM(amount) AS DECIMAL(10, 2)) AS total,
             COUNT(*) AS n,
             MIN(CAST(day AS DATE)) AS first_day,
             MIN(CAST(day AS TIMESTAMP)) AS first_ts
      FROM read_csv_auto('{{ workingDir }}/orders.csv')
      GROUP BY customer ORDER BY customer
    fetchType: STORE
  - id: to_csv
    type: io.kestra.plugin.serdes.csv.IonToCsv
    from: "{{ outputs.query.uri }}"
  - id: to_json
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{ outputs.query.uri }}"
  - id: reader
    type: io.kestra.plugin.scripts.python.Script
    script: |
      from kestra import Kestra
      rows = Kestra.read("{{ outputs.query.uri }}")
      Kestra.outputs({"customers": [r["customer"] for r in rows], "total": str(rows[0]["total"])})
  - id: top
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: SELECT 41 + 1 AS answer, 'x' AS label
    fetchType: FETCH_ONE
  - id: all
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: SELECT * FROM range(3) t(i)
    fetchType: FETCH
outputs:
  - id: csv
    type: FILE
    value: "{{ outputs.to_csv.uri }}"
"""

ORDERS = b"customer,amount,day\nada,10.50,2024-01-03\nbob,5,2024-02-01\nada,2.25,2024-01-01\n"


def test_data_flow_csv_duckdb_ion_csv(api):
    api.deploy(DATA_FLOW)
    ex = api.run("data", files={"orders": ("orders.csv", ORDERS, "text/csv")})
    assert ex["state"]["current"] == "SUCCESS", [l["message"] for l in api.logs(ex["id"])]
    # CsvToIon: every cell a string, Kestra's framing per generation
    raw = api.file(ex["id"], api.outputs(ex, "to_ion")["uri"])
    assert_ion_generation(api, raw, per_row=False)
    assert [dict(r) for r in read_ion(raw)][0] == {"customer": "ada", "amount": "10.50", "day": "2024-01-03"}
    # DuckDB STORE: typed ION (decimal, day timestamp, LocalDateTime annotation)
    query = api.outputs(ex, "query")
    assert query["size"] == 2
    ion_bytes = api.file(ex["id"], query["uri"])
    assert_ion_generation(api, ion_bytes)
    rows = read_ion(ion_bytes)
    import decimal
    assert rows[0]["customer"] == "ada" and rows[0]["total"] == decimal.Decimal("12.75") and rows[0]["n"] == 2
    assert rows[0]["first_day"].precision.name == "DAY" and rows[0]["first_day"].day == 1
    assert [a.text for a in rows[0]["first_ts"].ion_annotations] == ["LocalDateTime"]
    assert str(rows[0]["first_ts"]) == "2024-01-01T00:00:00"
    # back to CSV and JSON
    csv_text = api.file(ex["id"], api.outputs(ex, "to_csv")["uri"]).decode()
    assert csv_text.splitlines() == ["customer,total,n,first_day,first_ts",
                                     "ada,12.75,2,2024-01-01,2024-01-01T00:00:00.000",
                                     "bob,5.00,1,2024-02-01,2024-02-01T00:00:00.000"]
    jsonl = api.file(ex["id"], api.outputs(ex, "to_json")["uri"]).decode().splitlines()
    assert json.loads(jsonl[1]) == {"customer": "bob", "total": 5, "n": 1, "first_day": "2024-02-01",
                                    "first_ts": "2024-02-01T00:00:00"}
    # a script written for Kestra reads the ION output with Kestra's own package
    assert api.outputs(ex, "reader")["vars"] == {"customers": ["ada", "bob"], "total": "12.75"}
    assert api.outputs(ex, "top") == {"row": {"answer": 42, "label": "x"}, "size": 1}
    assert api.outputs(ex, "all") == {"rows": [{"i": 0}, {"i": 1}, {"i": 2}], "size": 3}
    assert api.flow_outputs(ex)["csv"] == api.outputs(ex, "to_csv")["uri"]


def test_json_to_ion(api):
    api.deploy("""
id: j
namespace: NS
tasks:
  - id: w
    type: io.kestra.plugin.core.storage.Write
    content: |
      {"a": 1, "b": 1.5, "c": "x", "d": null, "e": [1, 2]}
      {"a": 2, "b": 2.0, "c": "y", "d": true, "e": []}
    extension: .jsonl
  - id: conv
    type: io.kestra.plugin.serdes.json.JsonToIon
    from: "{{ outputs.w.uri }}"
""")
    ex = api.run("j")
    assert ex["state"]["current"] == "SUCCESS"
    data = api.file(ex["id"], api.outputs(ex, "conv")["uri"])
    assert_ion_generation(api, data, per_row=False)
    rows = read_ion(data)
    assert rows[0]["a"] == 1 and rows[0]["b"] == 1.5 and rows[0]["c"] == "x" and list(rows[0]["e"]) == [1, 2]
    assert rows[1]["d"] == True and rows[1]["b"] == 2.0  # noqa: E712 (IonPyBool)


def test_duckdb_missing_names_the_extra(api, monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb", None)     # the sandbox runs in this process
    api.deploy("""
id: noduck
namespace: NS
tasks:
  - id: q
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: SELECT 1
""")
    ex = api.run("noduck")
    assert ex["state"]["current"] == "FAILED"
    assert any("pip install 'kestra-magic[duckdb]'" in l["message"] for l in api.logs(ex["id"]))


PANDAS_FLOW = """
id: frame
namespace: NS
inputs:
  - id: table
    type: FILE
  - id: threshold
    type: FLOAT
tasks:
  - id: transform
    type: io.kestra.plugin.scripts.python.Script
    inputFiles:
      in.csv: "{{ inputs.table }}"
    outputFiles:
      - "out.*"
    script: |
      import pandas as pd
      from kestra import Kestra
      df = pd.read_csv("in.csv")
      kept = df[df["score"] >= {{ inputs.threshold }}].assign(double=lambda d: d["score"] * 2)
      kept.to_csv("out.csv", index=False)
      kept.to_parquet("out.parquet", index=False)
      Kestra.outputs({"kept": len(kept), "mean": float(kept["score"].mean())})
outputs:
  - id: kept
    type: INT
    value: "{{ outputs.transform.vars.kept }}"
"""


def test_python_flow_dataframe_in_csv_and_parquet_out(api):
    import pandas as pd
    frame = pd.DataFrame({"name": ["a", "b", "c"], "score": [1.0, 5.0, 9.0]})
    api.deploy(PANDAS_FLOW)
    ex = api.run("frame", {"threshold": "4"},
                 files={"table": ("table.csv", frame.to_csv(index=False).encode(), "text/csv")})
    assert ex["state"]["current"] == "SUCCESS", [l["message"] for l in api.logs(ex["id"])]
    out = api.outputs(ex, "transform")
    assert out["vars"] == {"kept": 2, "mean": 7.0}
    assert sorted(out["outputFiles"]) == ["out.csv", "out.parquet"]
    got = pd.read_csv(io.BytesIO(api.file(ex["id"], out["outputFiles"]["out.csv"])))
    assert got.to_dict("list") == {"name": ["b", "c"], "score": [5.0, 9.0], "double": [10.0, 18.0]}
    parquet = pd.read_parquet(io.BytesIO(api.file(ex["id"], out["outputFiles"]["out.parquet"])))
    assert parquet["double"].tolist() == [10.0, 18.0]
    assert api.flow_outputs(ex) == {"kept": 2}


def test_http_download_and_request_against_the_sandbox_itself(api):
    api.deploy("""
id: web
namespace: NS
inputs:
  - id: base
    type: STRING
tasks:
  - id: w
    type: io.kestra.plugin.core.storage.Write
    content: "a,b\\n1,2\\n"
    extension: .csv
  - id: dl
    type: io.kestra.plugin.core.http.Download
    uri: "{{ inputs.base }}/api/v1/main/executions/{{ execution.id }}/file?path={{ outputs.w.uri | urlencode }}"
  - id: rows
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{ outputs.dl.uri }}"
  - id: req
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.base }}/api/v1/main/flows/{{ flow.namespace }}/{{ flow.id }}"
  - id: missing
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.base }}/api/v1/main/flows/{{ flow.namespace }}/nope"
    allowFailure: true
""")
    ex = api.run("web", {"base": api.sb.url})
    assert ex["state"]["current"] == "WARNING", [l["message"] for l in api.logs(ex["id"])]
    dl = api.outputs(ex, "dl")
    assert dl["code"] == 200 and dl["length"] == 8
    assert api.file(ex["id"], dl["uri"]) == b"a,b\n1,2\n"
    assert [dict(r) for r in read_ion(api.file(ex["id"], api.outputs(ex, "rows")["uri"]))] == [{"a": "1", "b": "2"}]
    req = api.outputs(ex, "req")
    assert req["code"] == 200 and json.loads(req["body"])["id"] == "web"
    assert any("Failed http request with response code '404'" in l["message"] for l in api.logs(ex["id"]))


def test_scripts_do_not_see_the_clients_credentials(api, monkeypatch):
    monkeypatch.setenv("KESTRA_PASSWORD", "Not-For-Scripts-9")
    monkeypatch.setenv("KESTRA_API_TOKEN", "token-not-for-scripts")
    api.deploy("""
id: envs
namespace: NS
tasks:
  - id: show
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - env
""")
    ex = api.run("envs")
    assert ex["state"]["current"] == "SUCCESS"
    text = "\n".join(l["message"] for l in api.logs(ex["id"]))
    assert "PATH=" in text
    assert "Not-For-Scripts-9" not in text and "token-not-for-scripts" not in text


def test_working_directory_is_shared_by_its_tasks(api):
    api.deploy("""
id: wd
namespace: NS
tasks:
  - id: dir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      seed.txt: "41"
    outputFiles:
      - result.txt
    tasks:
      - id: first
        type: io.kestra.plugin.scripts.python.Script
        script: |
          n = int(open("seed.txt").read())
          open("middle.txt", "w").write(str(n + 1))
      - id: second
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - cp middle.txt result.txt
          - cat result.txt
""")
    ex = api.run("wd")
    assert ex["state"]["current"] == "SUCCESS", [l["message"] for l in api.logs(ex["id"])]
    files = api.outputs(ex, "dir")["outputFiles"]
    assert list(files) == ["result.txt"]
    assert api.file(ex["id"], files["result.txt"]) == b"42"
    assert any(l["message"] == "42" and l.get("taskId") == "second" for l in api.logs(ex["id"]))


def test_scripts_get_a_kestra_stand_in_when_the_package_is_missing(api, monkeypatch):
    import importlib.util
    from kestra_magic.sandbox.tasks import scripts
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "kestra" else real_find_spec(name, *a))
    shim = scripts._kestra_shim_dir()
    assert shim and (scripts.Path(shim) / "kestra" / "__init__.py").is_file()
    api.deploy("""
id: shim
namespace: NS
tasks:
  - id: q
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: SELECT 1 AS one
    fetchType: STORE
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    script: |
      import kestra
      from kestra import Kestra
      Kestra.logger().info("from the logger")
      Kestra.outputs({"file": kestra.__file__, "rows": Kestra.read("{{ outputs.q.uri }}")})
""")
    ex = api.run("shim")
    assert ex["state"]["current"] == "SUCCESS", [l["message"] for l in api.logs(ex["id"])]
    out = api.outputs(ex, "py")["vars"]
    assert out["file"].startswith(shim) and out["rows"] == [{"one": 1}]
    assert any(l["message"] == "from the logger" and l["level"] == "INFO" for l in api.logs(ex["id"]))
