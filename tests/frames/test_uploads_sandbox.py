"""DataFrames as FILE inputs reach the sandbox as CSV (default), ION or Parquet, and read back
equal through `read_output` on both generations."""
from __future__ import annotations

import pandas as pd
import pytest

from kestra_magic import frames
from kestra_magic.reading import read_output

FLOW = """
id: up
namespace: {ns}
inputs:
  - id: data
    type: FILE
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ inputs.data }}}}"
"""

DF = pd.DataFrame({"city": ["Lyon", "Zürich"], "pop": [520000, 421000], "share": [0.5, 0.25],
                   "since": pd.to_datetime(["2020-01-01T00:00:00Z", "2021-06-01T12:30:00Z"], utc=True)})


@pytest.mark.parametrize("fmt", ["csv", "ion", "parquet"])
def test_dataframe_file_input_formats(client, ns, fmt):
    client.flows.create_flow(FLOW.format(ns=ns))
    if fmt == "csv":
        value = DF                                   # the default
    elif fmt == "ion":
        value = DF.copy()
        value.attrs[frames.files.UPLOAD_FORMAT_ATTR] = "ion"
    else:
        value = frames.to_upload(DF, "parquet")      # (filename, bytes) is itself a FILE value
    ex = client.executions.create_execution(ns, "up", files={"data": value}, wait=True)
    assert ex.state.current == "SUCCESS"
    uri = ex.inputs["data"]
    assert uri.endswith(f".{fmt}")
    back = read_output(client, ex, uri)
    assert back["city"].tolist() == ["Lyon", "Zürich"] and back["pop"].tolist() == [520000, 421000]
    assert back["share"].tolist() == [0.5, 0.25]
    if fmt == "csv":
        assert back["since"].tolist() == ["2020-01-01 00:00:00+00:00", "2021-06-01 12:30:00+00:00"]
    else:
        assert str(back["since"].dt.tz) == "UTC" and back["since"].tolist() == DF["since"].tolist()
