"""``io.kestra.plugin.jdbc.duckdb.Query`` through the ``duckdb`` package (the optional
``kestra-magic[duckdb]`` extra), with Kestra's ``fetchType`` outputs and ION typing."""
from __future__ import annotations

import datetime as dt
import decimal
import shutil
import uuid

from kestra_magic.sandbox import ion
from kestra_magic.sandbox.tasks.base import TaskFailure, task
from kestra_magic.sandbox.tasks.scripts import _input_files, _Localizer, _output_files, output_dir

FETCH_TYPES = ("NONE", "FETCH_ONE", "FETCH", "STORE")


def _json_cell(value):
    """How a JDBC cell appears in the ``row``/``rows`` JSON outputs."""
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        import base64
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): _json_cell(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_cell(v) for v in value]
    return value


def _ion_cell(value):
    """JDBC -> Java -> Kestra ION typing (TIMESTAMP is a LocalDateTime, TIMESTAMPTZ an instant)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, dict):
        return {str(k): _ion_cell(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_ion_cell(v) for v in value]
    return value


@task("io.kestra.plugin.jdbc.duckdb.Query", required=["sql"],
      optional=["url", "username", "password", "timeZoneId", "fetchType", "fetch", "store", "fetchOne",
                "fetchSize", "parameters", "inputFiles", "outputFiles", "databaseUri", "autoCommit", "afterSQL"])
def query(props: dict, ctx) -> dict:
    """Runs ``sql`` in DuckDB inside the task's working directory (``{{ workingDir }}``)."""
    try:
        import duckdb
    except ImportError:
        raise TaskFailure("The DuckDB Query task needs the duckdb package: "
                          "pip install 'kestra-magic[duckdb]'") from None
    workdir = ctx.workdir()
    outdir = output_dir(ctx)
    variables = {"workingDir": str(workdir), "outputDir": str(outdir)}
    _input_files(props, ctx, workdir, variables)
    localizer = _Localizer(ctx, workdir)
    sql = localizer.text(str(ctx.render(props["sql"], **variables)))
    fetch_type = str(ctx.render(props.get("fetchType") or "")).upper()
    if not fetch_type:   # deprecated boolean flags
        fetch_type = ("STORE" if props.get("store") else "FETCH" if props.get("fetch")
                      else "FETCH_ONE" if props.get("fetchOne") else "NONE")
    if fetch_type not in FETCH_TYPES:
        raise TaskFailure(f"Invalid fetchType '{fetch_type}': use one of {', '.join(FETCH_TYPES)}")
    database = ":memory:"
    url = props.get("databaseUri") or props.get("url")
    if url:
        url = str(ctx.render(url, **variables))
        target = url.removeprefix("jdbc:duckdb:")
        if target.startswith("kestra://"):
            local = workdir / "database.duckdb"
            shutil.copyfile(ctx.local_path(target), local)
            target = str(local)
        database = target or ":memory:"
    params = ctx.render(props.get("parameters") or None, **variables)
    try:
        con = duckdb.connect(database)
    except Exception as exc:
        raise TaskFailure(f"Unable to open DuckDB database '{database}': {exc}") from None
    try:
        con.execute(f"SET home_directory='{workdir}'")
        con.execute(f"SET file_search_path='{workdir}'")
        if props.get("timeZoneId"):
            con.execute(f"SET TimeZone='{ctx.render(props['timeZoneId'])}'")
        try:
            cursor = con.execute(sql, params) if params else con.execute(sql)
        except Exception as exc:
            raise TaskFailure(f"{type(exc).__name__}: {exc}") from None
        outputs: dict = {}
        if cursor.description is not None and fetch_type != "NONE":
            names = [d[0] for d in cursor.description]
            if fetch_type == "FETCH_ONE":
                first = cursor.fetchone()
                outputs["row"] = None if first is None else {n: _json_cell(v) for n, v in zip(names, first)}
                outputs["size"] = 0 if first is None else 1
            elif fetch_type == "FETCH":
                rows = cursor.fetchall()
                outputs["rows"] = [{n: _json_cell(v) for n, v in zip(names, r)} for r in rows]
                outputs["size"] = len(rows)
            else:
                rows = cursor.fetchall()
                data = ion.write_rows(({n: _ion_cell(v) for n, v in zip(names, r)} for r in rows), ctx.generation)
                outputs["uri"] = ctx.put_file(f"{ctx.task_run_id}.ion", data)
                outputs["size"] = len(rows)
        if props.get("afterSQL"):
            con.execute(str(ctx.render(props["afterSQL"], **variables)))
    finally:
        con.close()
    files = _output_files(props, ctx, workdir, outdir, variables)
    if files or props.get("outputFiles") is not None:
        outputs["outputFiles"] = files
    ctx.log("DEBUG", f"Query executed ({fetch_type}), {outputs.get('size', 0)} row(s)")
    return outputs
