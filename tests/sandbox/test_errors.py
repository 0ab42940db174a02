"""Bad input gets Kestra's error for it, never a 500 or a stack trace: unknown routes and ids,
wrong methods, junk bodies and parameters, huge bodies (kestra-api.md §6, kestra-api-2.md §2)."""
from __future__ import annotations

import string

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kestra_magic.sandbox import Sandbox
from tests.sandbox.conftest import YAML, Kapi, error_text, flow_yaml
from tests.sandbox.openapi_check import check_error_body


def test_unknown_routes_get_kestras_404(kapi):
    for path in ("/nothing/here", "/api/v1/main/nope", "/api/v2/flows", "/api/v1/main/executions/a/b/c/d"):
        resp = kapi.http.get(kapi.base + path, timeout=10)
        assert resp.status_code == 404, path
        check_error_body(resp, kapi.gen)
        assert "Traceback" not in resp.text
        if kapi.gen == 1:
            assert resp.json()["message"] == "Not Found"
        else:
            assert resp.headers["X-Kestra-Edition"] == "OSS"


def test_wrong_method_is_405_with_allow(kapi):
    resp = kapi.http.patch(kapi.base + "/api/v1/main/flows/search", timeout=10)
    assert resp.status_code == 405 and "GET" in resp.headers["Allow"]
    check_error_body(resp, kapi.gen)


def test_unknown_execution_everywhere_is_404(kapi):
    for method, path in [("GET", "/executions/zzz"), ("GET", "/executions/zzz/file/metas?path=kestra:///a/b"),
                         ("GET", "/executions/zzz/file/preview?path=kestra:///a/b"),
                         ("DELETE", "/executions/zzz")]:
        resp = kapi.call(method, path)
        assert resp.status_code == 404, (method, path, resp.text)
    for name in ("restart", "replay", "resume", "pause"):
        assert kapi.action("zzz", name).status_code == 404, name
    assert kapi.get("/logs/zzz").json() == []      # Kestra does not check the id on log listing


def test_huge_bodies_get_413():
    with Sandbox(api=2, max_body_size=2048) as sb2, Sandbox(api=1, max_body_size=2048) as sb1:
        for sb in (sb1, sb2):
            k = Kapi(sb)
            resp = k.post("/flows", data=b"x" * 5000, headers=YAML)
            assert resp.status_code == 413
            assert "exceeds the maximum allowed content length [2048]" in error_text(resp)
            # a multipart upload over the limit
            big = k.post("/executions/a/b", files={"f": ("f.bin", b"0" * 5000)})
            assert big.status_code == 413
            # chunked (no Content-Length) is bounded too
            def gen():
                for _ in range(10):
                    yield b"y" * 1000
            chunked = requests.post(sb.url + "/api/v1/main/flows", data=gen(), headers=YAML, timeout=10,
                                    auth=(sb.username, sb.password))
            assert chunked.status_code in (413, 422) and chunked.status_code != 500


def test_junk_inputs_never_500(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "j", inputs="inputs:\n  - id: n\n    type: INT\n"))
    cases = [
        ("POST", f"/executions/{ns}/j", dict(data=b"\x00\xff garbage", headers={"Content-Type": "multipart/form-data"})),
        ("POST", f"/executions/{ns}/j", dict(data=b"--x\r\nbroken", headers={"Content-Type":
                                                                              "multipart/form-data; boundary=x"})),
        ("POST", f"/executions/{ns}/j", dict(params={"wait": "perhaps"})),
        ("POST", f"/executions/{ns}/j", dict(params={"revision": "one"})),
        ("POST", "/flows", dict(data=b"\xff\xfe\x00", headers=YAML)),
        ("POST", "/flows", dict(data=b"id: [", headers=YAML)),
        ("POST", "/flows", dict(data=b"id: x\nnamespace: UPPER\ntasks: 3\n", headers=YAML)),
        ("POST", "/flows", dict(data=b"!!python/object:os.system x", headers=YAML)),
        ("GET", "/flows/search", dict(params={"size": "-1"})),
        ("GET", "/flows/search", dict(params={"filters[labels][EQUALS]": "novalue"})),
        ("GET", "/flows/search", dict(params={"filters[": "x"})),
        ("GET", "/executions/search", dict(params={"filters[startDate][GREATER_THAN]": "yesterday"})),
        ("GET", "/executions/search", dict(params={"filters[timeRange][EQUALS]": "forever"})),
        ("GET", "/executions/search", dict(params={"filters[q][REGEX]": "("})),
        ("GET", f"/flows/{ns}/j", dict(params={"revision": "x"})),
        ("GET", f"/flows/{ns}/j", dict(params={"source": "maybe"})),
    ]
    validated = kapi.post("/flows/validate", data=b"\x00", headers=YAML)   # validation problems are not HTTP errors
    assert validated.status_code == 200 and "Invalid YAML" in validated.json()[0]["constraints"]
    for method, path, kw in cases:
        resp = kapi.call(method, path, **kw)
        assert 400 <= resp.status_code < 500, (method, path, kw, resp.status_code, resp.text)
        assert "Traceback" not in resp.text


def test_flow_labels_kestra_refuses_get_422(kapi, ns):
    # Kestra's Label constraints (kestra_magic/sandbox/labels.py) hold for flow definitions too
    # (kestra-io/kestra PR #18730: "rejected ... by flow definitions")
    for labels, path in (("labels:\n  Team: x\n", "labels.Team"), ("labels:\n  ok: ''\n", "labels.ok"),
                         ("labels:\n  - key: 1st\n    value: x\n", "labels[0].key"),
                         ("labels: 3\n", "labels")):
        resp = kapi.post("/flows", data=(flow_yaml(ns, "lab") + labels).encode(), headers=YAML)
        assert resp.status_code == 422 and path in error_text(resp), (labels, resp.status_code, resp.text)
    made = kapi.create_flow(flow_yaml(ns, "lab") + "labels:\n  team.a-b_C9: x\n  system.readOnly: 'true'\n")
    assert {lb["key"] for lb in made["labels"]} == {"team.a-b_C9", "system.readOnly"}


_text = st.text(alphabet=string.printable + "éü\u2603", max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
       segments=st.lists(st.sampled_from(["flows", "executions", "logs", "file", "search", "main", "x.y", "actions",
                                          "outputs", "tasks", "follow", "validate", "revisions", "%", "..", "preview"])
                         | _text.map(lambda t: t.replace("/", "")), max_size=5),
       params=st.dictionaries(st.sampled_from(["page", "size", "sort", "filters[q][EQUALS]", "filters[x][Y]", "path",
                                               "wait", "labels", "revision", "maxRows", "encoding", "format",
                                               "minLevel", "scheduleDate", "breakpoints", "kind", "source"]),
                              _text, max_size=3),
       body=st.binary(max_size=200))
def test_fuzzed_requests_never_get_500(sandbox_v1, sandbox_v2, method, segments, params, body):
    for sb in (sandbox_v1, sandbox_v2):
        path = "/api/v1/main/" + "/".join(requests.utils.quote(s, safe="") for s in segments)
        resp = requests.request(method, sb.url + path, params=params, data=body, timeout=10,
                                headers={"Content-Type": "application/x-yaml"})
        assert resp.status_code < 500, (sb.generation, method, path, params, body, resp.text)
        if resp.status_code >= 400:
            check_error_body(resp, sb.generation)
