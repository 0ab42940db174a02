"""client.namespaces against the sandbox of each generation: upload (revisions), read, stats,
listing, delete; bad paths refused before any request; a missing file is KestraNotFound."""
from __future__ import annotations

import pytest

from kestra_magic.errors import KestraNotFound


def test_namespace_files_round_trip(client, sandbox, ns):
    nsf = client.namespaces
    assert nsf.upload_file(ns, "scripts/clean.py", "print('é')\n") == "/scripts/clean.py"
    assert nsf.upload_file(ns, "/data/raw.bin", b"\x00\x01\xff") == "/data/raw.bin"
    assert nsf.get_file(ns, "scripts/clean.py") == "print('é')\n".encode()
    assert nsf.get_file(ns, "data/raw.bin") == b"\x00\x01\xff"
    nsf.upload_file(ns, "scripts/clean.py", "print(2)\n")
    assert nsf.get_file(ns, "scripts/clean.py") == b"print(2)\n"
    assert nsf.get_file(ns, "scripts/clean.py", revision=1) == "print('é')\n".encode()
    stats = nsf.file_stats(ns, "scripts/clean.py")
    assert stats["type"] == "File" and stats["size"] == 9 and stats["fileName"] == "clean.py"
    assert sorted(e["fileName"] for e in nsf.list_directory(ns)) == ["data", "scripts"]
    assert [e["fileName"] for e in nsf.list_directory(ns, "scripts")] == ["clean.py"]
    nsf.delete_file(ns, "data")
    assert [e["fileName"] for e in nsf.list_directory(ns)] == ["scripts"]
    with pytest.raises(KestraNotFound):
        nsf.get_file(ns, "data/raw.bin")


@pytest.mark.parametrize("path", ["", "/", "  ", "../etc/passwd", "a/../b", "a\\b"])
def test_bad_paths_are_refused_before_any_request(client, sandbox, ns, path):
    before = len(sandbox.requests)
    with pytest.raises(ValueError):
        client.namespaces.upload_file(ns, path, "x")
    assert len(sandbox.requests) == before
