"""The README says what is true: its two first commands are the ones CI and the quickstart
test run, and its magics reference lists every option the real magic_arguments parsers have."""
from __future__ import annotations

import re

import pytest

from tests.e2e.notebooks import ROOT

README = (ROOT / "README.md").read_text()
SETUP_AND_RUN = "bash scripts/quickstart.sh"
TESTS = "bash scripts/setup-tests.sh && python -m pytest -q"
MAGICS = ["kestra_config", "kestra_flow", "kestra_file", "kestra_run", "kestra_logs", "kestra_executions",
          "kestra_flows", "kestra_kill", "kestra_resume", "kestra_restart"]


def test_readme_opens_with_the_two_commands():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == [SETUP_AND_RUN, TESTS]
    # nothing but the title and a paragraph before them
    assert README.index("```bash") < README.index("\n## ")


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert [line for line in ci.splitlines() if "pytest" in line] == [TESTS]
    assert (ROOT / "scripts" / "quickstart.sh").exists()


def test_readme_points_at_a_real_kestra():
    assert ("docker run --pull=always --rm -it -p 8080:8080 --user=root -v /var/run/docker.sock:"
            "/var/run/docker.sock -v /tmp:/tmp kestra/kestra:latest server local") in README
    for var in ("KESTRA_URL", "KESTRA_USERNAME", "KESTRA_PASSWORD", "KESTRA_API_TOKEN", "KESTRA_TENANT"):
        assert f"`{var}`" in README
    assert "docs/interfaces.md" in README and "design.md" in README


def test_readme_screenshot_is_committed_and_small():
    assert "](docs/screenshots/widget.png)" in README
    png = (ROOT / "docs" / "screenshots" / "widget.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(png) < 400_000


def _section(magic: str) -> tuple[set[str], str]:
    """The magics a reference heading names, and its text (up to the next heading)."""
    heads = list(re.finditer(r"^#{2,3} (.+)$", README, re.M))
    for i, h in enumerate(heads):
        names = set(re.findall(r"%+(\w+)", h.group(1)))
        if h.group(0).startswith("### ") and magic in names:
            end = heads[i + 1].start() if i + 1 < len(heads) else len(README)
            return names, README[h.end():end]
    raise AssertionError(f"the README's magics reference has no section for %{magic}")


def _options(magic: str) -> set[str]:
    from kestra_magic.notebook.magics import KestraMagic
    parser = getattr(KestraMagic, magic).parser
    return {max(a.option_strings, key=len) for a in parser._actions
            if a.option_strings and a.dest != "help"}


@pytest.mark.parametrize("magic", MAGICS)
def test_readme_lists_every_option_of_every_magic(magic):
    names, section = _section(magic)
    missing = sorted(o for o in _options(magic) if not re.search(re.escape(o) + r"\b", section))
    assert not missing, f"README section for %{magic} lacks {missing}"
    # and lists no option that none of the section's magics has
    listed = set(re.findall(r"`(--[a-z][a-z-]*)", section))
    stale = sorted(listed - set().union(*(_options(m) for m in names)))
    assert not stale, f"README section for %{magic} lists options the magic lacks: {stale}"


def test_readme_documents_every_registered_magic(ip):
    registered = {name for kind in ("line", "cell") for name in ip.magics_manager.magics[kind]
                  if name.startswith("kestra_")}
    assert registered == set(MAGICS)
    headings = " ".join(re.findall(r"^### (.+)$", README, re.M))
    assert all(f"%{m}" in headings for m in MAGICS)


def _listed_columns(expr: str) -> list[str]:
    """The columns the README's tour lists for ``expr`` (``ex.task_runs  # DataFrame: a, b, ...``)."""
    m = re.search(rf"^{re.escape(expr)}\s+# DataFrame: (.+)$", README, re.M)
    assert m, f"the README tour no longer shows {expr} with its columns"
    return [c.strip() for c in m.group(1).split(",")]


def test_readme_column_names_are_the_frames_columns(sandbox_v2, ns):
    """The columns of a real run's frames, against the sandbox: the README says what they are."""
    from kestra_magic.config import Configuration
    from kestra_magic.runs import KestraClient
    with KestraClient(Configuration(url=sandbox_v2.url)) as c:
        c.flows.create_flow(f"id: cols\nnamespace: {ns}\ntasks:\n  - id: say\n"
                            "    type: io.kestra.plugin.core.log.Log\n    message: hi\n")
        run = c.run(f"{ns}.cols", timeout=30)
        assert _listed_columns("ex.task_runs") == list(run.task_runs.columns)
        assert _listed_columns("ex.logs()") == list(run.logs().columns)


def test_readme_lists_the_short_execution_columns():
    from kestra_magic.notebook.magics import KestraMagic
    _, section = _section("kestra_executions")
    assert ", ".join(KestraMagic.EXECUTION_COLUMNS) + ", then one `labels.<key>` column" in section


@pytest.mark.parametrize("png", ["widget.png", "topology.png", "completion.png", "highlight.png"])
def test_readme_uses_each_committed_screenshot(png):
    assert f"](docs/screenshots/{png})" in README
    data = (ROOT / "docs" / "screenshots" / png).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(data) < 400_000


def test_readme_tour_keeps_the_run_handle_when_the_run_fails():
    tour = README[README.index("## A 60-second tour"):README.index("## Pointing at a real Kestra")]
    assert "%kestra_run ex tutorial.quickstart.hello" in tour
    assert "ex = km.last_run()" in tour
