"""Output files built by real flows on the sandbox (both generations), read back through
`read_output`: scripts writing CSV/Parquet/JSONL/ION, DuckDB and serdes tasks writing Kestra-typed
ION (text on 1.x, binary rows on 2.x); values and dtypes checked column by column."""
from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from kestra_magic.errors import KestraError, KestraNotFound
from kestra_magic.reading import LargeFileWarning, find_file, read_output

SCRIPT_FLOW = """
id: files
namespace: {ns}
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    outputFiles: ["*.csv", "*.parquet", "*.jsonl", "*.ion", "*.txt"]
    script: |
      import datetime as dt, decimal
      import pandas as pd
      from amazon.ion import simpleion
      from amazon.ion.core import IonType, Timestamp, TimestampPrecision
      from amazon.ion.simple_types import IonPyText, IonPyNull
      df = pd.DataFrame({{"id": [1, 2, 3], "name": ["Zoë", "李", "x,y"], "score": [1.5, None, 3.25],
                         "when": pd.to_datetime(["2025-01-01T10:00:00Z", "2025-06-01T00:00:00Z", None], utc=True)}})
      df.to_csv("data.csv", index=False)
      df.to_parquet("data.parquet", index=False)
      df.to_json("data.jsonl", orient="records", lines=True, date_format="iso")
      open("empty.csv", "w").close()
      open("empty.ion", "w").close()
      open("notes.txt", "w").write("just text")
      ann = lambda t, s: IonPyText.from_value(IonType.STRING, s, (t,))
      rows = [{{"zdt": ann("ZonedDateTime", "2025-03-14T10:26:53+01:00[Europe/Paris]"),
               "odt": ann("OffsetDateTime", "2025-03-14T10:26:53-05:00"),
               "blob": b"\\x00\\xff", "sym": IonPyText.from_value(IonType.SYMBOL, "Formula:SUM(A1:A3)"),
               "n": IonPyNull.from_value(IonType.INT, None), "nested": {{"a": [1, 2]}}}},
              {{"zdt": ann("ZonedDateTime", "2025-08-01T08:00:00+02:00[Europe/Paris]"),
               "odt": ann("OffsetDateTime", "2025-03-14T10:26:53Z"),
               "blob": b"ok", "sym": IonPyText.from_value(IonType.SYMBOL, "plain"), "n": 7, "nested": {{"a": []}}}}]
      open("typed.ion", "wb").write(b"".join(simpleion.dumps(r, binary=True) for r in rows))
      open("typed_text.ion", "w").write("\\n".join(simpleion.dumps(r, binary=False, omit_version_marker=True) for r in rows) + "\\n")
      open("arrays.ion", "w").write('["119736","FL",1.5e0]\\n["448094","TX",null]\\n')
"""

DUCKDB_FLOW = """
id: query
namespace: {ns}
tasks:
  - id: query
    type: io.kestra.plugin.jdbc.duckdb.Query
    fetchType: STORE
    sql: |
      SELECT i AS id, 'név ' || i AS name, CAST(i * 1.25 AS DECIMAL(10,2)) AS price,
             i / 4.0::DOUBLE AS score, i % 2 = 0 AS even,
             TIMESTAMPTZ '2025-03-14 09:26:53.589+00' + i * INTERVAL 1 HOUR AS ts,
             DATE '2025-03-17' + CAST(i AS INTEGER) AS day,
             TIMESTAMP '2025-03-14 10:26:53.589' + i * INTERVAL 1 MINUTE AS ldt,
             TIME '08:30:00' AS lt,
             CAST(CASE WHEN i % 3 = 0 THEN NULL ELSE i * 0.5 END AS DECIMAL(10,1)) AS maybe
      FROM range(1, {rows} + 1) t(i)
outputs:
  - id: table
    type: STRING
    value: "{{{{ outputs.query.uri }}}}"
"""

SERDES_FLOW = """
id: serdes
namespace: {ns}
tasks:
  - id: csv
    type: io.kestra.plugin.core.storage.Write
    content: "city,pop\\nParis,2100000\\nLyon,520000\\n"
    extension: .csv
  - id: to_ion
    type: io.kestra.plugin.serdes.csv.CsvToIon
    from: "{{{{ outputs.csv.uri }}}}"
  - id: to_json
    type: io.kestra.plugin.serdes.json.IonToJson
    from: "{{{{ outputs.to_ion.uri }}}}"
"""


def _run(client, source: str, flow_id: str, ns: str):
    client.flows.create_flow(source.format(ns=ns))
    ex = client.executions.create_execution(ns, flow_id, wait=True)
    assert ex.state.current == "SUCCESS", ex.raw
    return ex


_SCRIPT_RUNS: dict = {}


@pytest.fixture
def script_ex(client, sandbox, ns):
    """The script flow runs once per sandbox; its files are only read by these tests."""
    if sandbox.url not in _SCRIPT_RUNS:
        _SCRIPT_RUNS[sandbox.url] = _run(client, SCRIPT_FLOW, "files", ns)
    return _SCRIPT_RUNS[sandbox.url]


def _downloads(sandbox, ex_id):
    return [r for r in sandbox.requests if r.path.endswith(f"/executions/{ex_id}/file")]


def test_script_files_csv_parquet_jsonl(client, script_ex):
    csv = read_output(client, script_ex, "data.csv")
    assert csv["id"].dtype == np.int64 and csv["id"].tolist() == [1, 2, 3]
    assert csv["name"].tolist() == ["Zoë", "李", "x,y"]
    assert csv["score"].dtype == np.float64 and np.isnan(csv["score"][1])
    pq = read_output(client, script_ex, "outputs.py.outputFiles['data.parquet']")
    assert pq["id"].dtype == np.int64 and pq["name"].tolist() == ["Zoë", "李", "x,y"]
    assert str(pq["when"].dtype).startswith("datetime64") and str(pq["when"].dt.tz) == "UTC"
    assert pq["when"][0] == pd.Timestamp("2025-01-01T10:00:00Z") and pd.isna(pq["when"][2])
    jl = read_output(client, script_ex.id, "data.jsonl")
    assert jl["id"].tolist() == [1, 2, 3] and jl["name"].tolist() == ["Zoë", "李", "x,y"]
    assert read_output(client, script_ex, "empty.csv").empty
    assert read_output(client, script_ex, "empty.ion").empty
    assert read_output(client, script_ex, "notes.txt") == b"just text"


def test_script_written_ion_typing_text_and_binary(client, script_ex):
    binary = read_output(client, script_ex, "typed.ion", via="raw")
    text = read_output(client, script_ex, "typed_text.ion", via="raw")
    for df in (binary, text):
        assert str(df["zdt"].dtype) == "datetime64[us, Europe/Paris]"
        assert df["zdt"].tolist() == [pd.Timestamp("2025-03-14T10:26:53+01:00"), pd.Timestamp("2025-08-01T08:00:00+02:00")]
        assert str(df["odt"].dtype) == "datetime64[us, UTC]" and df["odt"][0] == pd.Timestamp("2025-03-14T15:26:53Z")
        assert df["blob"].tolist() == [b"\x00\xff", b"ok"]
        assert df["sym"].tolist() == ["Formula:SUM(A1:A3)", "plain"]
        assert str(df["n"].dtype) == "Int64" and pd.isna(df["n"][0]) and df["n"][1] == 7
        assert df["nested"].tolist() == [{"a": [1, 2]}, {"a": []}]
    arrays = read_output(client, script_ex, "arrays.ion")
    assert list(arrays.columns) == [0, 1, 2] and arrays[1].tolist() == ["FL", "TX"]


def test_preview_reads_first_rows_without_downloading(client, sandbox, script_ex):
    before = len(_downloads(sandbox, script_ex.id))
    head = read_output(client, script_ex, "data.csv", nrows=2)
    assert head["id"].tolist() == [1, 2] and head["name"].tolist() == ["Zoë", "李"]
    assert len(_downloads(sandbox, script_ex.id)) == before
    assert any(r.path.endswith("/file/preview") and r.query.get("maxRows") == ["3"] for r in sandbox.requests)
    pq = read_output(client, script_ex, "data.parquet", nrows=1)   # binary: preview would be garbage
    assert pq["id"].tolist() == [1]


def test_lookup_errors_are_one_line(client, script_ex):
    with pytest.raises(KestraNotFound) as err:
        read_output(client, script_ex, "missing.csv")
    assert "data.csv" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(KestraError, match="is not a file"):
        read_output(client, script_ex, "outputs.py.exitCode")
    ex_id, uri = find_file(client, None, find_file(client, script_ex, "data.csv")[1])
    assert ex_id == script_ex.id and uri.endswith("/data.csv")   # a bare URI names its execution


@pytest.mark.parametrize("rows", [2000])
def test_duckdb_store_ion_every_column(client, sandbox, ns, rows):
    ex = _run(client, DUCKDB_FLOW.replace("{rows}", str(rows)), "query", ns)
    raw = read_output(client, ex, "outputs.query.uri", via="raw")
    auto = read_output(client, ex, "table")           # flow output id; the ION itself on both generations
    assert _downloads(sandbox, ex.id) and not any(r.query.get("format") for r in _downloads(sandbox, ex.id))
    reads = [raw, auto]
    if sandbox.generation == 2:                        # the server's conversion only when asked
        reads.append(read_output(client, ex, "table", via="jsonl"))
        assert any(r.query.get("format") == ["JSONL"] for r in _downloads(sandbox, ex.id))
    else:
        with pytest.raises(KestraError, match="does not convert ION to JSON Lines"):
            read_output(client, ex, "table", via="jsonl")
    for df in reads:
        assert len(df) == rows
        assert df["id"].dtype == np.int64 and df["id"].tolist()[:3] == [1, 2, 3]
        assert df["name"][0] == "név 1"
        assert df["price"].dtype == np.float64 and df["price"][1] == 2.5
        assert df["score"].dtype == np.float64 and df["score"][0] == 0.25
        assert df["even"].dtype == bool and df["even"].tolist()[:2] == [False, True]
        assert str(df["ts"].dtype) == "datetime64[us, UTC]" and df["ts"][0] == pd.Timestamp("2025-03-14T10:26:53.589Z")
        assert str(df["day"].dtype) == "datetime64[us]" and df["day"][0] == pd.Timestamp("2025-03-18")
        assert str(df["ldt"].dtype) == "datetime64[us]" and df["ldt"][0] == pd.Timestamp("2025-03-14T10:27:53.589")
        assert df["lt"][0] == dt.time(8, 30)
        assert df["maybe"].dtype == np.float64 and np.isnan(df["maybe"][2]) and df["maybe"][0] == 0.5
    for df in reads[1:]:
        pd.testing.assert_frame_equal(raw, df)
    exact = read_output(client, ex, "outputs.query.uri", keep_decimal=True)
    assert exact["price"][1] == __import__("decimal").Decimal("2.50")
    head = read_output(client, ex, "outputs.query.uri", nrows=5)        # a preview types like a full read
    assert head["id"].tolist() == [1, 2, 3, 4, 5] and str(head["ts"].dtype) == "datetime64[us, UTC]"
    pd.testing.assert_frame_equal(head, raw.head(5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_output(client, ex, "outputs.query.uri", warn_size=1000)
    assert any(issubclass(w.category, LargeFileWarning) and "nrows" in str(w.message) for w in caught)


def test_serdes_csv_to_ion_is_all_strings_and_ion_to_json(client, ns):
    ex = _run(client, SERDES_FLOW, "serdes", ns)
    ion = read_output(client, ex, "outputs.to_ion.uri", via="raw")
    assert ion["city"].tolist() == ["Paris", "Lyon"] and ion["pop"].tolist() == ["2100000", "520000"]
    for via in ("auto", "raw"):
        typed = read_output(client, ex, "outputs.to_ion.uri", via=via, infer_types=True)
        assert typed["pop"].dtype == np.int64 and typed["pop"].tolist() == [2100000, 520000], via
    js = read_output(client, ex, "outputs.to_json.uri")
    assert js["city"].tolist() == ["Paris", "Lyon"]


def test_large_ion_file_both_paths(client, sandbox, ns):
    rows = 12000
    ex = _run(client, DUCKDB_FLOW.replace("{rows}", str(rows)), "query", ns)
    df = read_output(client, ex, "outputs.query.uri", via="raw")
    assert len(df) == rows and df["id"].iloc[-1] == rows
    assert df["ts"].iloc[-1] == pd.Timestamp("2025-03-14T09:26:53.589Z") + pd.Timedelta(hours=rows)
    assert df["maybe"].isna().sum() == rows // 3


TWO_WRITERS = """
id: two
namespace: {ns}
tasks:
  - id: a
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles: ["out.csv"]
    commands:
      - printf 'x\\n1\\n' > out.csv
  - id: b
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles: ["out.csv"]
    commands:
      - printf 'x\\n2\\n' > out.csv
"""


def test_ambiguous_file_names_ask_for_the_output_name(client, ns):
    ex = _run(client, TWO_WRITERS, "two", ns)
    assert read_output(client, ex, "outputs.a.outputFiles['out.csv']")["x"].tolist() == [1]
    assert read_output(client, ex, "b.outputFiles.out.csv")["x"].tolist() == [2]
    with pytest.raises(KestraError, match="2 output files .* named 'out.csv'.*name the output instead"):
        read_output(client, ex, "out.csv")


def test_ion_falls_back_to_the_servers_jsonl_only_when_the_raw_file_cannot_be_had(sandbox_v2, ns):
    from kestra_magic.runs import KestraClient
    from kestra_magic.config import Configuration
    with KestraClient(Configuration(url=sandbox_v2.url, retries=0)) as client:
        ex = _run(client, DUCKDB_FLOW.replace("{rows}", "5"), "query", ns)
        exact = read_output(client, ex, "outputs.query.uri")
        sandbox_v2.faults.fail(500, times=1, method="GET", path=r"/executions/[^/]+/file$",
                               body='{"message": "storage unavailable"}', content_type="application/json")
        try:
            df = read_output(client, ex, "outputs.query.uri")   # raw refused: the JSONL conversion
        finally:
            sandbox_v2.faults.clear()
        assert [r.query.get("format") for r in _downloads(sandbox_v2, ex.id)][-2:] == [None, ["JSONL"]]
        assert df["id"].tolist() == [1, 2, 3, 4, 5] and df["lt"][0] == dt.time(8, 30)
        pd.testing.assert_frame_equal(df, exact)
        sandbox_v2.faults.fail(422, times=1, method="GET", path=r"/executions/[^/]+/file$",
                               body='{"message": "Unable to convert"}', content_type="application/json")
        try:   # a conversion asked for and refused is an error, never a silent switch
            with pytest.raises(KestraError, match="Unable to convert"):
                read_output(client, ex, "outputs.query.uri", via="jsonl")
        finally:
            sandbox_v2.faults.clear()


JSON_DOC = """
id: jdoc
namespace: {ns}
tasks:
  - id: w
    type: io.kestra.plugin.core.storage.Write
    content: |
      [
        {{"a": 1}},
        {{"a": 2}},
        {{"a": 3}}
      ]
    extension: .json
"""


def test_preview_that_cuts_a_json_document_falls_back_to_download(client, ns):
    ex = _run(client, JSON_DOC, "jdoc", ns)
    assert read_output(client, ex, "outputs.w.uri", nrows=2)["a"].tolist() == [1, 2]


def test_a_download_cut_short_is_sent_again_and_a_persistent_cut_is_a_typed_error(client, sandbox, script_ex):
    # downloads read the body in one buffer (transport ``whole_body``): a truncated body is still a
    # "no complete answer" the retry policy sends again, and never a silently short file
    from kestra_magic.errors import KestraConnectionError
    before = len(_downloads(sandbox, script_ex.id))
    sandbox.faults.malformed("truncated", times=1, path=r"/file$")
    try:
        frame = read_output(client, script_ex, "data.parquet")
        assert frame["name"].tolist() == ["Zoë", "李", "x,y"]
        assert len(_downloads(sandbox, script_ex.id)) == before + 2
        sandbox.faults.malformed("truncated", times=10, path=r"/file$")
        with pytest.raises(KestraConnectionError):
            client.executions.download_file(script_ex.id, find_file(client, script_ex, "data.parquet")[1])
    finally:
        sandbox.faults.clear()
