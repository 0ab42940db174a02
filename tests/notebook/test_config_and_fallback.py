"""%kestra_config options reaching the shared client, both Kestra generations, polling fallback."""
from __future__ import annotations

import pytest

import kestra_magic as km
from kestra_magic.config import ServerConfiguration, ServerVariable
from kestra_magic.notebook.magics import shared_client

from .conftest import FAIL_TASK, LOG_TASK, NAME_INPUT, flow_yaml

STEPS = "".join(f"  - id: s{i}\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT0.2S\n" for i in range(3))


def test_server_index_variables_and_insecure(nb, sandbox_v2):
    port = sandbox_v2.url.rsplit(":", 1)[1]
    try:
        km.configure(servers=[ServerConfiguration("http://127.0.0.1:9/nothing-here"),
                              ServerConfiguration("http://127.0.0.1:{port}",
                                                  variables={"port": ServerVariable(default="1")})])
        nb.run(f"%kestra_config --server-index 1 --var port={port} --tenant main --insecure")
        cfg = shared_client().configuration
        assert (cfg.server_index, cfg.server_variables, cfg.verify_ssl) == (1, {"port": port}, False)
        assert f"Kestra server: {sandbox_v2.url}" in nb.out and "TLS verification: off" in nb.out
        assert "server: Kestra 2." in nb.out
        failed = nb.fails("%kestra_config --server-index 5")
        assert "out of range" in str(failed.error) and len(failed.output.strip().splitlines()) == 1
        assert "--var 'bad' is not KEY=VALUE" in str(nb.fails("%kestra_config --var bad").error)
        nb.run("%config KestraMagic.url = '" + sandbox_v2.url + "'")
        assert shared_client().url == sandbox_v2.url
    finally:
        km.configure(reset=True)


def test_unreachable_server_is_reported_in_one_line(nb):
    try:
        km.configure(url="http://127.0.0.1:9", retries=0)
        nb.run("%kestra_config")
        assert "server: not reachable (" in nb.out
        failed = nb.fails("%kestra_flows")
        assert "KestraConnectionError" in failed.output and len(failed.output.strip().splitlines()) == 1
    finally:
        km.configure(reset=True)


@pytest.fixture
def kb_any(nb, sandbox):
    nb.sb = sandbox
    nb.run(f"%kestra_config --url {sandbox.url}")
    nb.run("%config KestraMagic.widget = 'off'")
    yield nb
    km.configure(reset=True)


def test_flow_run_and_failure_on_each_generation(kb_any, ns):
    kb = kb_any
    body = flow_yaml(ns, "gen", LOG_TASK.replace("hello", "$hello {{ inputs.name }}"), NAME_INPUT)
    kb.run(f"%%kestra_flow\n{body}")
    assert kb.sb.store.get_flow(ns, "gen")["source"] == body
    assert f"API generation {kb.sb.generation}" in kb.out
    ex = kb.run(f"%kestra_run {ns}.gen --input name=x --label k:v")
    assert ex.state == "SUCCESS" and kb.sb.store.executions[ex.id]["inputs"] == {"name": "x"}
    labels = kb.sb.store.executions[ex.id]["labels"]
    assert {"key": "k", "value": "v"} in labels
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'gen', FAIL_TASK, NAME_INPUT)}")
    failed = kb.fails(f"%kestra_run ex {ns}.gen")
    assert "ended FAILED at task boom" in str(failed.error) and kb.ns["ex"].state == "FAILED"


def test_polling_fallback_when_the_event_stream_fails(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'poll', STEPS)}")
    kb.run("%config KestraMagic.widget = 'on'")
    kb.run("%config KestraMagic.poll_interval = 0.1")
    kb.sb.faults.fail(503, times=1000, method="GET", path=r"/executions/[^/]+/follow$")
    try:
        ex = kb.run(f"%kestra_run {ns}.poll")
    finally:
        kb.sb.faults.clear()
    mon = ex._monitor
    assert ex.state == "SUCCESS" and mon.follower.source == "poll" and mon.follower.error is not None
    assert ">SUCCESS<" in mon.widget.header.value and 'data-state="SUCCESS" data-count="3"' in mon.widget.progress.value


def test_config_sandbox_starts_an_embedded_server(nb, ns):
    try:
        nb.run("%kestra_config --sandbox --api 1")
        sb = km._sandbox
        assert sb is not None and sb.generation == 1 and sb.url.startswith("http://127.0.0.1:")
        assert f"Kestra server: {sb.url}" in nb.out and "(embedded sandbox)" in nb.out
        assert "API generation 1" in nb.out
        nb.run("%config KestraMagic.widget = 'off'")
        nb.run(f"%%kestra_flow\n{flow_yaml(ns, 'embedded', LOG_TASK, NAME_INPUT)}")
        ex = nb.run(f"%kestra_run {ns}.embedded")
        assert ex.state == "SUCCESS" and sb.store.executions[ex.id]["flowId"] == "embedded"
        nb.run("%kestra_config --sandbox --api 1")
        assert km._sandbox is sb  # started once, reused
        assert "give only one" in str(nb.fails("%kestra_config --sandbox --url http://x").error)
    finally:
        if km._sandbox is not None:
            km._sandbox.stop()
            km._sandbox = None
        km.configure(reset=True)


def test_follower_gives_up_when_the_server_stops_answering(sandbox_v2, ns):
    from kestra_magic.runs import KestraClient
    from kestra_magic.config import Configuration
    from kestra_magic.errors import KestraError
    from kestra_magic.follow import ExecutionFollower
    with KestraClient(Configuration(url=sandbox_v2.url, retries=0)) as c:
        c.flows.create_flow(flow_yaml(ns, "gone", STEPS))
        ex = c.executions.create_execution(ns, "gone")
        sandbox_v2.faults.fail(503, times=100_000, path=rf"/executions/{ex.id}")
        try:
            follower = ExecutionFollower(c, ex, poll_interval=0.05, logs=False)
            follower.give_up_after = 0.3
            follower.start()
            assert follower.wait(10) and follower.lost and isinstance(follower.error, KestraError)
        finally:
            sandbox_v2.faults.clear()


def test_settings_from_ipython_config_apply_when_the_extension_loads(ip, sandbox_v2):
    ip.run_line_magic("unload_ext", "kestra_magic")
    ip.config.KestraMagic.url = sandbox_v2.url
    ip.config.KestraMagic.widget = "off"
    try:
        ip.run_line_magic("load_ext", "kestra_magic")
        magic = ip.magics_manager.registry["KestraMagic"]
        assert magic.url == sandbox_v2.url and magic.widget == "off"
        assert shared_client().url == sandbox_v2.url
    finally:
        ip.config.pop("KestraMagic", None)
        km.configure(reset=True)
