"""Kestra's namespace-file tasks (io.kestra.plugin.core.namespace.UploadFiles/DownloadFiles/DeleteFiles)
and ``namespaceFiles`` (files copied into a task's working directory), run as flows over HTTP on both
generations, namespace files put and read through the ``/namespaces/{ns}/files`` API.

Each test cites the Kestra test (kestra-io/kestra core/src/test/java/...) or documented example whose
facts it checks; the flows are written here.
"""
from __future__ import annotations

import pytest

from tests.sandbox.test_engine import Api

pytestmark = pytest.mark.conformance("tasks")


@pytest.fixture
def api(sandbox, ns):
    return Api(sandbox, ns)


def put(api: Api, path: str, data: bytes, namespace: str | None = None) -> None:
    r = api.http.post(f"{api.base}/namespaces/{namespace or api.ns}/files", params={"path": path},
                      files={"fileContent": (path.rsplit("/", 1)[-1], data)}, timeout=10)
    assert r.status_code == 200, r.text


def content(api: Api, path: str, namespace: str | None = None) -> bytes | None:
    r = api.http.get(f"{api.base}/namespaces/{namespace or api.ns}/files", params={"path": path}, timeout=10)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return r.content


def listing(api: Api, path: str = "/", namespace: str | None = None) -> list[str] | None:
    """File and directory names directly under ``path`` (None when the directory is not there)."""
    r = api.http.get(f"{api.base}/namespaces/{namespace or api.ns}/files/directory", params={"path": path},
                     timeout=10)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return sorted(entry["fileName"] for entry in r.json())


def messages(api: Api, ex: dict, task_id: str, level: str | None = None) -> list[str]:
    return [e["message"] for e in api.logs(ex["id"])
            if e.get("taskId") == task_id and (level is None or e["level"] == level)]


def state(api: Api, ex: dict, task_id: str) -> str:
    (tr,) = api.task_runs(ex, task_id)
    return tr["state"]["current"]


# ---------------------------------------------------------------------------------------
# UploadFiles (UploadFilesTest)

UPLOAD_MAP = """
id: upload_map
namespace: NS
inputs:
  - id: text
    type: STRING
  - id: conflict
    type: STRING
    defaults: OVERWRITE
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "{{ inputs.text }}"
  - id: upload
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: "{{ flow.namespace }}"
    destination: /folder
    conflict: "{{ inputs.conflict }}"
    filesMap:
      /path/file.txt: "{{ outputs.write.uri }}"
"""


def test_upload_files_map_overwrite_skip_error(api):
    """UploadFilesTest.shouldPutFileGivenAlreadyExistingFileWhenConflictOverwrite (a second upload
    replaces the content, one file), ...WhenConflictSkip (the first content stays) and
    shouldThrowExceptionGivenAlreadyExistingFileWhenConflictError (the second run fails): the file
    lands at destination + key, /folder/path/file.txt."""
    api.deploy(UPLOAD_MAP)
    assert api.run("upload_map", {"text": "first"})["state"]["current"] == "SUCCESS"
    assert content(api, "/folder/path/file.txt") == b"first"
    assert listing(api, "/folder/path") == ["file.txt"]

    assert api.run("upload_map", {"text": "second"})["state"]["current"] == "SUCCESS"
    assert content(api, "/folder/path/file.txt") == b"second"          # OVERWRITE (the default)

    assert api.run("upload_map", {"text": "third", "conflict": "SKIP"})["state"]["current"] == "SUCCESS"
    assert content(api, "/folder/path/file.txt") == b"second"          # SKIP keeps it

    ex = api.run("upload_map", {"text": "fourth", "conflict": "ERROR"})
    assert ex["state"]["current"] == "FAILED" and state(api, ex, "upload") == "FAILED"
    assert any(f"File '/folder/path/file.txt' already exists in namespace '{api.ns}' and conflict is set to ERROR"
               in m for m in messages(api, ex, "upload", "ERROR"))
    assert content(api, "/folder/path/file.txt") == b"second"
    assert listing(api, "/folder/path") == ["file.txt"]                 # still one file


def test_upload_files_glob_from_working_directory(api):
    """UploadFilesTest.shouldPutFileFromRegex: ``files: ["glob:**application**"]`` uploads the
    matching working-directory file under ``destination`` (one file). Also the documented example
    "Upload a folder using a glob pattern" (``glob:**/dbt/**`` in a WorkingDirectory: the whole
    folder, with its relative paths); bare patterns are relative to the working directory
    (WorkingDir.findAllFilesMatching chroots them)."""
    api.deploy("""
id: upload_glob
namespace: NS
tasks:
  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: make
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - "echo 'a: 1' > application-test.yml"
          - echo other > notes.txt
          - mkdir -p project/dbt/models
          - echo 'select 1' > project/dbt/models/one.sql
          - "echo 'name: demo' > project/dbt/dbt_project.yml"
      - id: upload_regex
        type: io.kestra.plugin.core.namespace.UploadFiles
        namespace: "{{ flow.namespace }}"
        files:
          - "glob:**application**"
        destination: /folder/
      - id: upload_dbt
        type: io.kestra.plugin.core.namespace.UploadFiles
        namespace: "{{ flow.namespace }}"
        files:
          - "glob:**/dbt/**"
      - id: upload_bare
        type: io.kestra.plugin.core.namespace.UploadFiles
        namespace: "{{ flow.namespace }}"
        files:
          - "*.txt"
        destination: /bare
""")
    ex = api.run("upload_glob")
    assert ex["state"]["current"] == "SUCCESS", [e["message"] for e in api.logs(ex["id"])]
    assert listing(api, "/folder") == ["application-test.yml"]
    assert content(api, "/folder/application-test.yml") == b"a: 1\n"
    assert content(api, "/project/dbt/models/one.sql") == b"select 1\n"
    assert content(api, "/project/dbt/dbt_project.yml") == b"name: demo\n"
    assert listing(api, "/bare") == ["notes.txt"]
    assert sorted(listing(api, "/")) == ["bare", "folder", "project"]


def test_upload_files_needs_files_or_files_map(api):
    """UploadFiles.run: neither ``files`` nor ``filesMap`` -> "files or filesMap is required";
    ``namespace`` is required (@NotNull) so the flow is rejected without it."""
    api.deploy("""
id: upload_nothing
namespace: NS
tasks:
  - id: upload
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: "{{ flow.namespace }}"
""")
    ex = api.run("upload_nothing")
    assert ex["state"]["current"] == "FAILED"
    assert "files or filesMap is required" in messages(api, ex, "upload", "ERROR")
    r = api.http.post(f"{api.base}/flows", headers={"Content-Type": "application/x-yaml"}, timeout=10,
                      data=f"id: upload_no_ns\nnamespace: {api.ns}\ntasks:\n  - id: upload\n"
                           f"    type: io.kestra.plugin.core.namespace.UploadFiles\n    files: ['*']\n".encode())
    assert r.status_code == 422 and "namespace" in r.text


def test_documented_upload_a_file_and_rename_it(api):
    """UploadFiles' documented example "Upload a specific file and rename it": a file from a previous
    task's output map, ``filesMap: {LICENCE: <uri>}``, lands at /LICENCE (destination "/" + key)."""
    api.deploy("""
id: upload_a_file
namespace: NS
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: MIT License
  - id: upload
    type: io.kestra.plugin.core.namespace.UploadFiles
    filesMap:
      LICENCE: "{{ outputs.write.uri }}"
    namespace: "{{ flow.namespace }}"
""")
    assert api.run("upload_a_file")["state"]["current"] == "SUCCESS"
    assert content(api, "/LICENCE") == b"MIT License"


# ---------------------------------------------------------------------------------------
# DownloadFiles (DownloadFilesTest)

def test_download_files_matching(api):
    """DownloadFilesTest.shouldDownloadNamespaceFile: of /a/b/test1.txt and /a/b/test2.txt,
    ``files: ["**test1.txt"]`` downloads one, output ``files`` keyed "/a/b/test1.txt" -> a
    kestra:/// URI with the file's content. The documented examples "Download a namespace file"
    (``**input.txt`` from another namespace) and "Download all namespace files" (``**``)."""
    other = f"{api.ns}.tutorial"
    put(api, "/a/b/test1.txt", b"1")
    put(api, "/a/b/test2.txt", b"2")
    put(api, "/input.txt", b"in", other)
    put(api, "/data/input.txt", b"in2", other)
    put(api, "/data/other.csv", b"x", other)
    api.deploy(f"""
id: download
namespace: NS
tasks:
  - id: one
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: "{{{{ flow.namespace }}}}"
    files:
      - "**test1.txt"
  - id: download_file
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: {other}
    files:
      - "**input.txt"
  - id: download_all_files
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: {other}
    files: "**"
""")
    ex = api.run("download")
    assert ex["state"]["current"] == "SUCCESS", [e["message"] for e in api.logs(ex["id"])]
    files = api.outputs(ex, "one")["files"]
    assert list(files) == ["/a/b/test1.txt"] and files["/a/b/test1.txt"].startswith("kestra:///")
    r = api.http.get(f"{api.base}/executions/{ex['id']}/file", params={"path": files["/a/b/test1.txt"]}, timeout=10)
    assert r.status_code == 200 and r.content == b"1"
    assert sorted(api.outputs(ex, "download_file")["files"]) == ["/data/input.txt", "/input.txt"]
    assert sorted(api.outputs(ex, "download_all_files")["files"]) == ["/data/input.txt", "/data/other.csv",
                                                                      "/input.txt"]


def test_download_files_rejects_a_map(api):
    """DownloadFiles.run: ``files`` neither a string nor a list ->
    "The files property must be a string or a list of strings"."""
    api.deploy("""
id: download_bad
namespace: NS
tasks:
  - id: download
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: "{{ flow.namespace }}"
    files:
      a: b
""")
    ex = api.run("download_bad")
    assert ex["state"]["current"] == "FAILED"
    assert "The files property must be a string or a list of strings" in messages(api, ex, "download", "ERROR")


# ---------------------------------------------------------------------------------------
# DeleteFiles (DeleteFilesTest)

DELETE = """
id: delete
namespace: NS
inputs:
  - id: pattern
    type: STRING
  - id: parents
    type: STRING
    defaults: "false"
tasks:
  - id: delete
    type: io.kestra.plugin.core.namespace.DeleteFiles
    namespace: "{{ flow.namespace }}.target"
    files:
      - "{{ inputs.pattern }}"
    deleteParentFolder: "{{ inputs.parents }}"
"""


def test_delete_files_matching(api):
    """DeleteFilesTest.shouldDeleteNamespaceFilesForMatchingExpression: ``**test1*`` deletes
    /a/b/test1.txt and keeps /a/b/test2.txt. Also the documented example "Delete namespace files
    that match a specific regex glob pattern" (``**.upl``)."""
    target = f"{api.ns}.target"
    put(api, "/a/b/test1.txt", b"1", target)
    put(api, "/a/b/test2.txt", b"2", target)
    put(api, "/x.upl", b"u", target)
    put(api, "/deep/y.upl", b"u", target)
    api.deploy(DELETE)
    assert api.run("delete", {"pattern": "**test1*"})["state"]["current"] == "SUCCESS"
    assert listing(api, "/a/b", target) == ["test2.txt"]
    assert api.run("delete", {"pattern": "**.upl"})["state"]["current"] == "SUCCESS"
    assert content(api, "/x.upl", target) is None and content(api, "/deep/y.upl", target) is None
    assert listing(api, "/", target) == ["a", "deep"]        # folders stay without deleteParentFolder


def test_delete_files_parent_folders(api):
    """DeleteFilesTest.shouldDeleteParentFolder (the emptied /folder goes too),
    shouldNotDeleteParentFolderWhenFlagIsFalse (it stays), and
    shouldNotDeleteParentFolderWhenMultipleFilesExist (a folder still holding a file stays)."""
    target = f"{api.ns}.target"
    api.deploy(DELETE)
    put(api, "/folder/file.txt", b"content", target)
    assert api.run("delete", {"pattern": "**/file.txt", "parents": "false"})["state"]["current"] == "SUCCESS"
    assert listing(api, "/folder", target) == [] and listing(api, "/", target) == ["folder"]

    put(api, "/folder/file.txt", b"content", target)
    assert api.run("delete", {"pattern": "**/file.txt", "parents": "true"})["state"]["current"] == "SUCCESS"
    assert listing(api, "/", target) == [] and listing(api, "/folder", target) is None

    put(api, "/folder/file1.txt", b"content1", target)
    put(api, "/folder/file2.txt", b"content2", target)
    assert api.run("delete", {"pattern": "**/file1.txt", "parents": "true"})["state"]["current"] == "SUCCESS"
    assert listing(api, "/folder", target) == ["file2.txt"] and listing(api, "/", target) == ["folder"]


def test_documented_delete_all_files(api):
    """DeleteFiles' documented example "Delete all namespace files from a specific namespace" (``**``)."""
    target = f"{api.ns}.target"
    put(api, "/one.txt", b"1", target)
    put(api, "/sub/two.txt", b"2", target)
    api.deploy(DELETE)
    assert api.run("delete", {"pattern": "**"})["state"]["current"] == "SUCCESS"
    assert content(api, "/one.txt", target) is None and content(api, "/sub/two.txt", target) is None


# ---------------------------------------------------------------------------------------
# namespaceFiles (WorkingDirectoryTest.namespaceFiles, NamespaceFilesUtilsTest)

def test_working_directory_namespace_files(api):
    """WorkingDirectoryTest.namespaceFiles (working-directory-namespace-files.yaml): four namespace
    files, ``exclude: [/ignore/**]``; the three kept are read from the working directory, reading
    the excluded one fails; 6 task runs, that task FAILED, the execution WARNING (AllowFailure)."""
    put(api, "/test/a/b/c/1.txt", b"first")
    put(api, "/a/b/c/2.txt", b"second")
    put(api, "/a/b/3.txt", b"third")
    put(api, "/ignore/4.txt", b"4th")
    api.deploy("""
id: wdir_ns_files
namespace: NS
tasks:
  - id: allow
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - id: worker
        type: io.kestra.plugin.core.flow.WorkingDirectory
        namespaceFiles:
          enabled: true
          exclude:
            - /ignore/**
        tasks:
          - id: t1
            type: io.kestra.plugin.scripts.shell.Commands
            commands: [cat test/a/b/c/1.txt]
          - id: t2
            type: io.kestra.plugin.scripts.shell.Commands
            commands: [cat a/b/c/2.txt]
          - id: t3
            type: io.kestra.plugin.scripts.shell.Commands
            commands: [cat a/b/3.txt]
          - id: t4
            type: io.kestra.plugin.scripts.shell.Commands
            commands: [cat ignore/4.txt]
""")
    ex = api.run("wdir_ns_files")
    assert ex["state"]["current"] == "WARNING"
    assert len(ex["taskRunList"]) == 6
    assert state(api, ex, "t4") == "FAILED"
    assert messages(api, ex, "t1", "INFO") == ["first"]
    assert messages(api, ex, "t2", "INFO") == ["second"]
    assert messages(api, ex, "t3", "INFO") == ["third"]
    assert any(m.startswith("Loaded 3 namespace files from ") for m in messages(api, ex, "worker", "INFO"))


def test_namespace_files_default_and_custom_namespaces(api):
    """NamespaceFilesUtilsTest.defaultNs / customNs: every file of the flow's namespace (or of
    ``namespaces``) is loaded, logged "Loaded 100 namespace files"; multiple_folder_ns (nested
    folders: 3 files); multiple_folder_ns_with_folder_per_ns: the same path from two namespaces
    lands under <namespace>/test.txt each."""
    for i in range(100):
        put(api, f"/{i}.txt", b"a" * 1024)
    custom = f"{api.ns}.custom"
    for path in ("/folder1/test.txt", "/folder2/test.txt", "/test.txt"):
        put(api, path, b"c", custom)
    ns1, ns2 = f"{api.ns}.ns1", f"{api.ns}.ns2"
    put(api, "/test.txt", b"one\n", ns1)
    put(api, "/test.txt", b"two\n", ns2)
    api.deploy(f"""
id: ns_files_utils
namespace: NS
tasks:
  - id: default_ns
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      enabled: true
    commands:
      - ls *.txt | wc -l
  - id: custom_ns
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      namespaces: ["{custom}"]
    commands:
      - cat folder1/test.txt folder2/test.txt test.txt
  - id: folder_per_ns
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      namespaces: ["{ns1}", "{ns2}"]
      folderPerNamespace: true
    commands:
      - cat {ns1}/test.txt
      - cat {ns2}/test.txt
      - test ! -e test.txt
""")
    ex = api.run("ns_files_utils")
    assert ex["state"]["current"] == "SUCCESS", [e["message"] for e in api.logs(ex["id"])]
    assert messages(api, ex, "default_ns", "INFO")[0].startswith(f"Loaded 100 namespace files from '{api.ns}' in ")
    assert messages(api, ex, "default_ns", "INFO")[1].strip() == "100"
    assert messages(api, ex, "custom_ns", "INFO")[0].startswith(f"Loaded 3 namespace files from '{custom}' in ")
    assert messages(api, ex, "custom_ns", "INFO")[1:] == ["ccc"]
    assert messages(api, ex, "folder_per_ns", "INFO")[0].startswith(
        f"Loaded 2 namespace files from '{ns1}, {ns2}' in ")
    assert messages(api, ex, "folder_per_ns", "INFO")[1:] == ["one", "two"]


def test_namespace_files_later_namespace_wins(api):
    """NamespaceFiles.namespaces: "if a file is present in the first and second namespace, only the
    file present on the second namespace will be loaded" (NamespaceFilesUtils keeps the last)."""
    first, second = f"{api.ns}.first", f"{api.ns}.second"
    put(api, "/conf.txt", b"from first\n", first)
    put(api, "/only-first.txt", b"kept\n", first)
    put(api, "/conf.txt", b"from second\n", second)
    api.deploy(f"""
id: ns_order
namespace: NS
tasks:
  - id: read
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      namespaces: ["{first}", "{second}"]
    commands:
      - cat conf.txt
      - cat only-first.txt
""")
    ex = api.run("ns_order")
    assert ex["state"]["current"] == "SUCCESS"
    assert messages(api, ex, "read", "INFO")[1:] == ["from second", "kept"]


# ---------------------------------------------------------------------------------------
# How patterns match (PathMatcherPredicateTest; Java's glob as sun.nio.fs.Globs translates it)

PATHS = ["/base/test.txt", "/base/sub/dir/test.txt"]


@pytest.mark.parametrize("patterns, base, paths, kept", [
    # shouldMatchAllGivenRecursiveGlobExpressionAndNoBasePath
    (["**/*.txt"], None, PATHS, PATHS),
    # shouldMatchAllGivenSimpleExpressionAndNoBasePath ("test.txt" becomes "glob:**/test.txt")
    (["test.txt"], None, PATHS, PATHS),
    # shouldMatchGivenSimpleExpressionAndBasePath
    (["test.txt"], "/base", PATHS, ["/base/test.txt"]),
    # shouldAddBasePathForExpressionWithNoPrefix ("/sub/dir" + "/**/*")
    (["/**/*"], "/sub/dir", ["/sub/dir/x/y", "/other/x/y"], ["/sub/dir/x/y"]),
    # shouldSupportRegexExpression
    (["regex:.*\\.json"], None, ["/a/b.json", "/a/b.jsonl"], ["/a/b.json"]),
    # Java's glob: * stays inside a folder, ** crosses folders, {a,b} alternates, [!x] negates
    (["/*.py"], None, ["/a.py", "/d/a.py"], ["/a.py"]),
    (["*.py"], None, ["/a.py"], []),
    (["**.py"], None, ["/a.py", "/d/a.py"], ["/a.py", "/d/a.py"]),
    (["/{a,b}/*"], None, ["/a/1", "/b/2", "/c/3"], ["/a/1", "/b/2"]),
    (["/[!a]/*"], None, ["/a/1", "/b/2"], ["/b/2"]),
])
def test_path_patterns(patterns, base, paths, kept):
    from kestra_magic.sandbox.tasks.namespace import path_matcher
    matches = path_matcher(patterns, base=base)
    assert [p for p in paths if matches(p)] == kept


def test_include_and_exclude():
    """PathMatcherPredicateTest.shouldMatchGivenIncludeAndExcludeExpressions."""
    from kestra_magic.sandbox.tasks.namespace import include_exclude
    keep = include_exclude(["/a/**", "c/**"], ["**/2"])
    paths = ["/a/b/c/1", "/a/2", "/b/c/d/3", "/b/d/4", "/c/5"]
    assert [p for p in paths if keep(p)] == ["/a/b/c/1", "/b/c/d/3", "/c/5"]
