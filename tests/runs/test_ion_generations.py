"""A Kestra-typed ION output reads identically on 1.x (text ION, one struct per line) and 2.x
(concatenated binary rows) through the default ``run.read(...)``: the file itself, decoded by the
package (never the 2.x server's JSONL conversion, which drops Kestra's annotations)."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from kestra_magic.config import Configuration
from kestra_magic.runs import KestraClient

EDGE_FLOW = """
id: edges
namespace: {ns}
inputs:
  - id: encoding
    type: STRING
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    outputFiles: ["out.ion"]
    script: |
      from amazon.ion import simpleion
      from amazon.ion.core import IonType
      from amazon.ion.simple_types import IonPyNull, IonPyText
      ann = lambda t, s: IonPyText.from_value(IonType.STRING, s, (t,))
      null = lambda t: IonPyNull.from_value(t, None)
      rows = [
          {{"ldt": ann("LocalDateTime", "2025-03-14T10:26:53.589"),
            "zdt": ann("ZonedDateTime", "2025-03-14T10:26:53+01:00[Europe/Paris]"),
            "lt": ann("LocalTime", "08:30:15"), "blob": b"\\x00\\xff", "sym": IonPyText.from_value(IonType.SYMBOL, "A:B"),
            "n": null(IonType.INT), "t": null(IonType.TIMESTAMP), "s": null(IonType.STRING),
            "first name": "Ada", "a-b": 1.5e0, "select": True}},
          {{"ldt": ann("LocalDateTime", "2025-08-01T00:00:00"),
            "zdt": ann("ZonedDateTime", "2025-08-01T08:00:00+02:00[Europe/Paris]"),
            "lt": ann("LocalTime", "23:59:59.123"), "blob": b"ok", "sym": IonPyText.from_value(IonType.SYMBOL, "plain"),
            "n": 7, "t": null(IonType.TIMESTAMP), "s": "x",
            "first name": "Grace", "a-b": null(IonType.FLOAT), "select": False}},
      ]
      if "{{{{ inputs.encoding }}}}" == "binary":   # Kestra 2.x: one binary stream (version marker) per row
          open("out.ion", "wb").write(b"".join(simpleion.dumps(r, binary=True) for r in rows))
      else:                       # Kestra 1.x: text ION, one struct per line
          open("out.ion", "w").write("\\n".join(simpleion.dumps(r, binary=False, omit_version_marker=True)
                                                for r in rows) + "\\n")
outputs:
  - id: table
    type: FILE
    value: "{{{{ outputs.py.outputFiles['out.ion'] }}}}"
"""


def _read(sb, ns):
    with KestraClient(Configuration(url=sb.url)) as c:
        c.flows.create_flow(EDGE_FLOW.format(ns=ns))
        run = c.run(f"{ns}.edges", inputs={"encoding": "binary" if sb.generation == 2 else "text"}, timeout=60)
        frame = run.read("table")
        downloads = [r for r in sb.requests if r.path.endswith(f"/executions/{run.id}/file")]
        assert downloads and not any(r.query.get("format") for r in downloads)   # the file itself
        head = run.read("table", nrows=1)
        pd.testing.assert_frame_equal(head, frame.head(1))                       # previews type alike
        return frame


def test_kestra_edge_types_read_the_same_on_both_generations(sandbox_v1, sandbox_v2, ns):
    v1, v2 = _read(sandbox_v1, ns), _read(sandbox_v2, ns)
    pd.testing.assert_frame_equal(v1, v2)
    df = v2
    assert list(df.columns) == ["ldt", "zdt", "lt", "blob", "sym", "n", "t", "s", "first name", "a-b", "select"]
    assert str(df["ldt"].dtype) == "datetime64[us]" and df["ldt"][0] == pd.Timestamp("2025-03-14T10:26:53.589")
    assert str(df["zdt"].dtype) == "datetime64[us, Europe/Paris]"
    assert df["zdt"].tolist() == [pd.Timestamp("2025-03-14T10:26:53+01:00"), pd.Timestamp("2025-08-01T08:00:00+02:00")]
    assert df["lt"].tolist() == [dt.time(8, 30, 15), dt.time(23, 59, 59, 123000)]
    assert df["blob"].tolist() == [b"\x00\xff", b"ok"] and df["sym"].tolist() == ["A:B", "plain"]
    assert str(df["n"].dtype) == "Int64" and pd.isna(df["n"][0]) and df["n"][1] == 7
    assert df["t"].isna().all() and pd.isna(df["s"][0]) and df["s"][1] == "x"
    assert df["first name"].tolist() == ["Ada", "Grace"] and df["select"].tolist() == [True, False]
    assert df["a-b"][0] == 1.5 and pd.isna(df["a-b"][1])
