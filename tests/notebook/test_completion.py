"""Completion and inspection in Kestra cells through IPython's completer (matcher API v2), against
the sandbox of each generation: ``ip.Completer.completions(cell, offset)`` as ipykernel calls it."""
from __future__ import annotations

import time

import pytest
from IPython.core.completer import provisionalcompleter

from kestra_magic.notebook import completion

CURSOR = "‸"


@pytest.fixture
def kc(nb, sandbox, ns):
    """The shell pointed at the sandbox, completion registered, a fresh catalog; a flow with inputs."""
    import kestra_magic as km
    nb.run(f"%kestra_config --url {sandbox.url}")
    completion.CATALOGS.clear()
    completion.register(nb.ip)
    km.client().flows.create_flow(
        f"id: hello\nnamespace: {ns}\ninputs:\n  - id: name\n    type: STRING\n  - id: count\n    type: INT\n"
        "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: x\n")
    nb.gen, nb.ns_ = sandbox.generation, ns
    yield nb
    completion.unregister(nb.ip)
    completion.CATALOGS.clear()
    km.configure(reset=True)


def complete(ip, text: str) -> list[tuple[str, str]]:
    offset = text.index(CURSOR)
    cell = text.replace(CURSOR, "")
    with provisionalcompleter():
        found = list(ip.Completer.completions(cell, offset))
    # each completion replaces the fragment before the cursor: check the edit is coherent
    for c in found:
        assert c.end == offset and cell[c.start:offset] in c.text or c.start == offset, c
    return [(c.text, c.type) for c in found]


def texts(ip, text: str) -> list[str]:
    return [t for t, _ in complete(ip, text)]


FLOW = "%%kestra_flow\nid: f\nnamespace: n\n"


def test_task_type_values_come_from_the_servers_plugin_list(kc):
    found = complete(kc.ip, FLOW + "tasks:\n  - id: t\n    type: io.kestra.plugin.core.lo‸\n")
    assert found == [("io.kestra.plugin.core.log.Log", "task type")]
    assert texts(kc.ip, FLOW + "tasks:\n  - id: t\n    type: Retu‸\n") == ["io.kestra.plugin.core.debug.Return"]
    loops = texts(kc.ip, FLOW + "tasks:\n  - id: t\n    type: io.kestra.plugin.core.flow.‸\n")
    assert ("io.kestra.plugin.core.flow.Loop" in loops) == (kc.gen == 2)
    assert ("io.kestra.plugin.core.flow.ForEach" in loops) == (kc.gen == 1)


def test_properties_of_the_task_under_the_cursor(kc):
    cell = FLOW + "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    ‸\n"
    names = texts(kc.ip, cell)
    assert names[0] == "level"                          # the type's own properties first
    assert "message" not in names and "id" not in names  # already written
    assert {"retry", "timeout", "allowFailure"} <= set(names)
    nested = FLOW + ("tasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n"
                     "      - id: b\n        type: io.kestra.plugin.core.debug.Return\n        fo‸\n"
                     "  - id: after\n    type: io.kestra.plugin.core.log.Log\n")
    assert texts(kc.ip, nested) == ["format"]
    handler = FLOW + "tasks: []\nerrors:\n  - id: e\n    type: io.kestra.plugin.scripts.python.Script\n    scr‸"
    assert texts(kc.ip, handler) == ["script"]


def test_flow_level_keys_follow_the_generation(kc):
    names = texts(kc.ip, FLOW + "‸")
    assert {"inputs", "outputs", "labels", "variables", "errors", "finally", "triggers", "concurrency",
            "tasks"} <= set(names)
    assert "id" not in names and "namespace" not in names
    assert ("pluginDefaults" in names) == (kc.gen == 1)
    assert texts(kc.ip, FLOW + "conc‸") == ["concurrency"]


def test_enum_values(kc):
    assert texts(kc.ip, FLOW + "inputs:\n  - id: x\n    type: ST‸\n") == ["STRING"]
    assert ("BOOLEAN" in texts(kc.ip, FLOW + "inputs:\n  - id: x\n    type: ‸\n")) == (kc.gen == 1)
    log = FLOW + "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    level: ‸\n"
    assert texts(kc.ip, log) == ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
    duck = FLOW + "tasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.duckdb.Query\n    fetchType: F‸\n"
    assert texts(kc.ip, duck) == ["FETCH_ONE", "FETCH"]
    assert texts(kc.ip, FLOW + "concurrency:\n  limit: 1\n  behavior: ‸\n") == ["QUEUE", "CANCEL", "FAIL"]


EXPR = (FLOW + "inputs:\n  - id: who\n    type: STRING\n  - id: when\n    type: DATE\n"
        "variables:\n  greeting: hi\nlabels:\n  team: data\ntasks:\n"
        "  - id: ret\n    type: io.kestra.plugin.core.debug.Return\n    format: x\n"
        "  - id: dl\n    type: io.kestra.plugin.core.http.Download\n    uri: http://x\n"
        "  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ EXPR‸ }}\"\n")


def expr(ip, fragment: str) -> list[str]:
    return texts(ip, EXPR.replace("EXPR‸", fragment + CURSOR))


def test_expressions_complete_inputs_outputs_vars_and_context(kc):
    assert expr(kc.ip, "inputs.") == ["inputs.who", "inputs.when"]
    assert expr(kc.ip, "inputs.wh") == ["inputs.who", "inputs.when"]
    assert expr(kc.ip, "outputs.") == ["outputs.ret", "outputs.dl", "outputs.say"]
    assert expr(kc.ip, "outputs.ret.") == ["outputs.ret.value"]
    assert set(expr(kc.ip, "outputs.dl.")) == {"outputs.dl.uri", "outputs.dl.code", "outputs.dl.length",
                                               "outputs.dl.headers"}
    assert expr(kc.ip, "vars.") == ["vars.greeting"]
    assert expr(kc.ip, "labels.") == ["labels.team"]
    assert "execution.id" in expr(kc.ip, "execution.") and expr(kc.ip, "flow.n") == ["flow.namespace"]
    assert "taskrun.value" in expr(kc.ip, "taskrun.")
    assert expr(kc.ip, "item.") == ["item.value", "item.index", "item.key"]
    roots = expr(kc.ip, "")
    assert {"inputs", "outputs", "vars", "execution", "flow", "taskrun"} <= set(roots)
    assert ("item" in roots) == (kc.gen == 2)


def test_expressions_complete_pebble_filters_and_functions(kc):
    assert expr(kc.ip, "inputs.when | date") == ["date", "dateAdd"]
    assert "toJson" in expr(kc.ip, "outputs.ret.value | ")
    assert expr(kc.ip, "no") == ["now()"]
    assert "secret()" in expr(kc.ip, "sec")


def test_kestra_run_completes_flows_inputs_and_flags(kc):
    ns = kc.ns_
    assert texts(kc.ip, f"%kestra_run {ns}.‸") == [f"{ns}.hello"]
    assert texts(kc.ip, f"ex = %kestra_run {ns}.h‸") == [f"{ns}.hello"]
    assert texts(kc.ip, f"%kestra_run {ns}.hello --input ‸") == ["name=", "count="]
    assert texts(kc.ip, f"%kestra_run {ns}.hello -i c‸") == ["count="]
    flags = texts(kc.ip, f"%kestra_run {ns}.hello --‸")
    assert {"--input", "--no-wait", "--timeout", "--label"} <= set(flags)
    assert texts(kc.ip, f"%kestra_run {ns}.hello --no-w‸") == ["--no-wait"]


def test_line_magics_complete_namespaces_and_recent_execution_ids(kc):
    import kestra_magic as km
    ex = km.client().executions.create_execution(kc.ns_, "hello", inputs={"name": "a", "count": 1})
    completion.CATALOGS.clear()
    assert kc.ns_ in texts(kc.ip, f"%kestra_executions {kc.ns_[:8]}‸")
    assert texts(kc.ip, f"%kestra_flows {kc.ns_}‸") == [kc.ns_]
    assert ex.id in texts(kc.ip, "%kestra_logs ‸")
    assert texts(kc.ip, f"%kestra_kill {ex.id[:6]}‸") == [ex.id]
    assert "--limit" in texts(kc.ip, "%kestra_executions --l‸")


def test_python_cells_keep_ipythons_own_completion(kc):
    kc.ip.user_ns["kestra_variable_for_test"] = 1
    assert "kestra_variable_for_test" in texts(kc.ip, "kestra_variable_fo‸")


def test_inspection_shows_the_task_type_under_the_cursor(kc):
    cell = FLOW + "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    bundle = completion.inspect_cell(cell, cell.index("message"))
    assert bundle["text/plain"].startswith("io.kestra.plugin.core.log.Log")
    assert "Log a message in the task logs." in bundle["text/plain"]
    assert "message: string, required" in bundle["text/plain"]
    assert "| `level` | string (TRACE, DEBUG, INFO, WARN, ERROR) |" in bundle["text/markdown"]
    assert completion.inspect_cell(cell, cell.index("namespace")) is None      # not in a task
    ret = FLOW + "tasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n"
    assert "Outputs:\n  value: string" in completion.inspect_cell(ret, len(ret) - 3)["text/plain"]


def test_completion_against_a_dead_server_is_bounded_and_silent(nb):
    import kestra_magic as km
    nb.run("%kestra_config --url http://127.0.0.1:9")
    completion.CATALOGS.clear()
    completion.register(nb.ip)
    try:
        started = time.monotonic()
        assert texts(nb.ip, FLOW + "tasks:\n  - id: t\n    type: io.kes‸\n") == []
        assert time.monotonic() - started < completion.COLD_WAIT + 2
        started = time.monotonic()
        for _ in range(5):       # the failure is remembered: no request per keystroke
            texts(nb.ip, "%kestra_run a‸")
        assert time.monotonic() - started < 1.0
    finally:
        completion.unregister(nb.ip)
        completion.CATALOGS.clear()
        km.configure(reset=True)


@pytest.mark.parametrize("cell", ["%%kestra_flow\n\t- : : {{ |‸", "%%kestra_flow\n- - - ‸", "%kestra_run ‸",
                                  "%%kestra_flow --namespace ‸", "%%kestra_flow\n  {{ outputs...‸"])
def test_odd_cells_never_raise(kc, cell):
    complete(kc.ip, cell)


def test_unregister_removes_the_matcher(kc):
    completion.unregister(kc.ip)
    assert texts(kc.ip, FLOW + "conc‸") != ["concurrency"]
    completion.register(kc.ip)
    completion.register(kc.ip)           # idempotent
    assert sum(m is completion._MATCHER for m in kc.ip.Completer.custom_matchers) == 1


def test_a_flow_saved_later_is_completed_after_invalidate(kc):
    import kestra_magic as km
    assert texts(kc.ip, f"%kestra_run {kc.ns_}.lat‸") == []
    km.client().flows.create_flow(f"id: later\nnamespace: {kc.ns_}\ntasks:\n  - id: a\n"
                                  "    type: io.kestra.plugin.core.log.Log\n    message: x\n")
    completion.invalidate()          # what %%kestra_flow calls after saving
    completion.CATALOGS.get(wait=0)  # the next keystroke starts the refresh ...
    deadline = time.monotonic() + 10
    while texts(kc.ip, f"%kestra_run {kc.ns_}.lat‸") != [f"{kc.ns_}.later"]:
        assert time.monotonic() < deadline, "the refreshed catalog never listed the new flow"
        time.sleep(0.05)


def test_script_blocks_are_the_users_code_not_yaml_keys(kc):
    script = FLOW + ("tasks:\n  - id: py\n    type: io.kestra.plugin.scripts.python.Script\n    script: |\n"
                     "      import json\n      imp‸\n")
    assert texts(kc.ip, script) != ["image"] and all(t not in ("timeout", "retry") for t in texts(kc.ip, script))
    blank = script.replace("imp‸", "‸")
    assert "retry" not in texts(kc.ip, blank)
    after = FLOW + ("tasks:\n  - id: py\n    type: io.kestra.plugin.scripts.python.Script\n    script: |\n"
                    "      print(1)\n    warn‸\n")
    assert texts(kc.ip, after) == ["warningOnStdErr"]          # back in the task's mapping
    expr_in_script = script.replace("imp‸", "print('{{ inputs.‸")
    assert texts(kc.ip, expr_in_script) == []                  # no inputs declared, but no crash


def test_magic_lines_complete_namespaces(kc):
    assert texts(kc.ip, f"%%kestra_file {kc.ns_}‸\nprint(1)\n") == [kc.ns_]
    assert texts(kc.ip, f"%%kestra_flow --namespace {kc.ns_}‸\nid: x\n") == [kc.ns_]
    assert "--namespace" in texts(kc.ip, "%%kestra_flow --na‸\nid: x\n")


def test_a_slow_server_costs_one_bounded_wait_not_one_per_keystroke(kc, sandbox):
    completion.CATALOGS.clear()
    sandbox.faults.latency(3)              # every request takes 3 s
    try:
        started = time.monotonic()
        texts(kc.ip, FLOW + "tasks:\n  - id: t\n    type: io.kes‸\n")
        first = time.monotonic() - started
        assert first < completion.COLD_WAIT + 1.5
        started = time.monotonic()
        for _ in range(5):
            texts(kc.ip, FLOW + "tasks:\n  - id: t\n    type: io.kes‸\n")
        assert time.monotonic() - started < 1.0
    finally:
        sandbox.faults.latency(0)
    deadline = time.monotonic() + 30       # the background fetch lands: completions appear
    while not texts(kc.ip, FLOW + "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.L‸\n"):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_did_you_mean_a_task_type(kc):
    assert completion.suggest_task_type("io.kestra.plugin.core.log.Lgo") == "io.kestra.plugin.core.log.Log"
    assert completion.suggest_task_type("io.kestra.core.tasks.debugs.return") == "io.kestra.plugin.core.debug.Return"
    assert completion.suggest_task_type("io.kestra.plugin.core.log.Log") is None
    assert completion.suggest_task_type("com.example.Nothing") is None
