"""50 executions at once over HTTP, each followed over SSE at the same time: every one ends,
with every state and every log line, and every follower sees its own `end`."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.sandbox.conftest import Kapi, flow_yaml

BODY = """
tasks:
  - id: one
    type: io.kestra.plugin.core.log.Log
    message: "one {{ inputs.n }}"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.2S
  - id: two
    type: io.kestra.plugin.core.log.Log
    message: "two {{ inputs.n }}"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.n }}"
"""


def test_fifty_executions_at_once(sandbox_v2, ns):
    k = Kapi(sandbox_v2)
    k.create_flow(flow_yaml(ns, "many", body=BODY, inputs="inputs:\n  - id: n\n    type: INT\n"))

    def one(n: int):
        mine = Kapi(sandbox_v2)
        resp = mine.http.post(f"{mine.base}/api/v1/main/executions/{ns}/many", files={"n": (None, str(n))}, timeout=60)
        assert resp.status_code == 200, resp.text
        execution_id = resp.json()["id"]
        events = mine.sse(f"/executions/{execution_id}/follow", timeout=60)
        mine.http.close()
        return n, execution_id, events

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50)))
    assert len({eid for _, eid, _ in results}) == 50
    for n, execution_id, events in results:
        assert events[0][0] == "start" and events[-1][0] == "end", (n, [m for m, _ in events])
        final = events[-1][1]
        assert final["state"]["current"] == "SUCCESS"
        assert [h["state"] for h in final["state"]["histories"]] == ["CREATED", "RUNNING", "SUCCESS"]
        assert [tr["taskId"] for tr in final["taskRunList"]] == ["one", "nap", "two", "ret"]
        assert all(tr["state"]["current"] == "SUCCESS" for tr in final["taskRunList"])
        logs = k.get(f"/logs/{execution_id}").json()
        assert [l["message"] for l in logs] == [f"one {n}", f"two {n}"]
        outputs = k.get(f"/outputs/tasks/{execution_id}/{final['taskRunList'][3]['id']}").json()
        assert outputs == {"value": str(n)}
