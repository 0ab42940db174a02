"""Namespace files on both generations (spec-checked), and through kestrapy's FilesApi unchanged."""
from __future__ import annotations

import io
import zipfile

import pytest

from tests.conftest import PASSWORD, USERNAME


def test_upload_revisions_list_stats_move_delete(kapi, ns):
    base = f"/namespaces/{ns}/files"
    up = kapi.post(base, params={"path": "/data/in.csv"}, files={"fileContent": ("in.csv", b"a,b\n1,2\n")})
    assert up.status_code == 200
    kapi.post(base, params={"path": "/data/in.csv"}, files={"fileContent": ("in.csv", b"a,b\n3,4\n")})
    assert kapi.get(base, params={"path": "/data/in.csv"}).content == b"a,b\n3,4\n"
    assert kapi.get(base, params={"path": "/data/in.csv", "revision": 1}).content == b"a,b\n1,2\n"
    assert kapi.get(f"{base}/revisions", params={"path": "/data/in.csv"}).json() == [{"revision": 1}, {"revision": 2}]
    stats = kapi.get(f"{base}/stats", params={"path": "/data/in.csv"}).json()
    assert stats["fileName"] == "in.csv" and stats["type"] == "File" and stats["size"] == 8
    root = kapi.get(f"{base}/directory").json()
    assert [(e["fileName"], e["type"]) for e in root] == [("data", "Directory")]
    assert kapi.post(f"{base}/directory", params={"path": "/empty"}).status_code == 200
    assert sorted(e["fileName"] for e in kapi.get(f"{base}/directory").json()) == ["data", "empty"]
    assert kapi.get(f"{base}/search", params={"q": "IN."}).json() == ["/data/in.csv"]
    assert kapi.put(base, params={"from": "/data", "to": "/moved"}).status_code == 200
    assert kapi.get(base, params={"path": "/moved/in.csv"}).content == b"a,b\n3,4\n"
    archive = zipfile.ZipFile(io.BytesIO(kapi.get(f"{base}/export").content))
    assert archive.namelist() == ["moved/in.csv"]
    assert kapi.delete(base, params={"path": "/moved"}).status_code == 200
    assert kapi.get(base, params={"path": "/moved/in.csv"}).status_code == 404
    assert kapi.get(f"{base}/directory", params={"path": "/nope"}).status_code == 404
    assert kapi.get(base, params={"path": "/../etc/passwd"}).status_code == 422
    assert kapi.get(base).status_code == 400


@pytest.fixture(scope="module")
def authed():
    from kestra_magic.sandbox import Sandbox
    with Sandbox(api=2, username=USERNAME, password=PASSWORD) as sb:
        yield sb


def test_kestrapy_files_api(authed, ns):
    from kestrapy import KestraClient
    kc = KestraClient(host=authed.url, username=USERNAME, password=PASSWORD, timeout=30)
    kc.files.create_namespace_directory(namespace=ns, tenant="main", path="/scripts")
    kc.files.create_namespace_file(namespace=ns, path="/scripts/run.py", tenant="main", file_content=b"print(1)\n")
    assert kc.files.file_content(namespace=ns, path="/scripts/run.py", tenant="main") == b"print(1)\n"
    listed = kc.files.list_namespace_directory_files(namespace=ns, tenant="main", path="/scripts")
    assert [f.file_name for f in listed] == ["run.py"]
    assert kc.files.file_metadatas(namespace=ns, tenant="main", path="/scripts/run.py").size == 9
    assert [r.revision for r in kc.files.file_revisions(namespace=ns, tenant="main", path="/scripts/run.py")] == [1]
    kc.files.move_file_directory(namespace=ns, from_path="/scripts/run.py", to_path="/main.py", tenant="main")
    assert kc.files.search_namespace_files(namespace=ns, q="main", tenant="main") == ["/main.py"]
    kc.files.delete_file_directory(namespace=ns, path="/main.py", tenant="main")
    assert kc.files.search_namespace_files(namespace=ns, q="", tenant="main") == []
