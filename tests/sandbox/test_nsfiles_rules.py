"""The namespace-file rules (sandbox/nsfiles.py) the API and the namespace tasks share, on a real
store, and the flow graph of a deleted flow (404, as Kestra's FlowController.generateFlowGraph)."""
from __future__ import annotations

import io
import zipfile

import pytest

from kestra_magic.sandbox.backend import Conflict, Invalid, NotFound
from kestra_magic.sandbox.nsfiles import NamespaceFiles, normalise
from kestra_magic.sandbox.store import Store
from tests.sandbox.conftest import flow_yaml


@pytest.fixture
def files(tmp_path):
    store = Store(2, tmp_path)
    yield NamespaceFiles(store)
    store.close()


def test_paths_are_normalised_and_escapes_refused():
    assert normalise("a//b/./c.txt") == "/a/b/c.txt"
    assert normalise(None) == normalise("") == normalise("/") == "/"
    for bad in ("../etc/passwd", "a/../../b", "a\\b"):
        with pytest.raises(Invalid, match="'..' and backslashes"):
            normalise(bad)


def test_put_records_parents_keeps_revisions_and_follows_the_conflict_rule(files):
    assert files.put("ns", "data/in/a.csv", b"1")
    assert files.put("ns", "/data/in/a.csv", b"2")
    assert files.read("ns", "data/in/a.csv") == ("/data/in/a.csv", b"2")
    assert files.read("ns", "/data/in/a.csv", "1")[1] == b"1"
    assert files.revisions("ns", "/data/in/a.csv") == 2
    assert [a["fileName"] for a in files.list_dir("ns", "/data")] == ["in"]
    assert files.put("ns", "/data/in/a.csv", b"3", conflict="SKIP") is False
    with pytest.raises(Conflict, match="already exists .* conflict is set to ERROR"):
        files.put("ns", "/data/in/a.csv", b"3", conflict="ERROR")
    assert files.read("ns", "/data/in/a.csv")[1] == b"2"
    with pytest.raises(Conflict, match="is a directory"):
        files.put("ns", "/data/in", b"x")
    with pytest.raises(Invalid, match="namespace root"):
        files.put("ns", "/", b"x")
    with pytest.raises(NotFound, match="Revision 9"):
        files.read("ns", "/data/in/a.csv", "9")
    with pytest.raises(Invalid, match="is a file, not a directory"):
        files.list_dir("ns", "/data/in/a.csv")


def test_move_delete_search_and_export(files):
    files.put("ns", "/a/x.txt", b"x")
    files.put("ns", "/a/b/y.txt", b"y")
    files.put("other", "/a/x.txt", b"other")
    files.move("ns", "/a", "/z/a")
    assert sorted(files.latest("ns")) == ["/z/a/b/y.txt", "/z/a/x.txt"]
    assert files.stats("ns", "/z")["type"] == "Directory"
    assert files.search("ns", "Y.TXT") == ["/z/a/b/y.txt"]
    with zipfile.ZipFile(io.BytesIO(files.export("ns"))) as archive:
        assert sorted(archive.namelist()) == ["z/a/b/y.txt", "z/a/x.txt"]
    files.delete("ns", "/z/a/b")
    assert sorted(files.latest("ns")) == ["/z/a/x.txt"]
    with pytest.raises(NotFound):
        files.delete("ns", "/z/a/b")
    assert files.latest("other") == {"/a/x.txt": b"other"}


def test_delete_files_removes_emptied_parents_deepest_first(files):
    files.put("ns", "/p/q/r.txt", b"r")
    files.put("ns", "/p/keep.txt", b"k")
    assert files.delete_files("ns", lambda p: p.endswith("r.txt"), delete_parents=True) == ["/p/q/r.txt"]
    with pytest.raises(NotFound):
        files.stats("ns", "/p/q")
    assert files.stats("ns", "/p")["type"] == "Directory"      # still holds keep.txt


def test_the_graph_of_a_deleted_flow_or_its_deleted_revision_is_404(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "gone"))
    assert kapi.get(f"/flows/{ns}/gone/graph").status_code == 200
    assert kapi.delete(f"/flows/{ns}/gone").status_code == 204
    assert kapi.get(f"/flows/{ns}/gone/graph").status_code == 404
    assert kapi.get(f"/flows/{ns}/gone/graph", params={"revision": 2}).status_code == 404
