"""The documentation site: the quickstart's emulator commands work, every page is in the nav.

Relative links between pages (and to files of the repository) are checked by
tests/test_examples.py; the ```yaml blocks of every page too.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import REPO
from specrunner.cli import main

DOCS = REPO / "docs"
QUICKSTART = DOCS / "quickstart.md"
EMULATOR_SECTION = "## On the emulator"

# Lines of the quickstart that set up a machine or open a browser: not specrunner's to test.
SKIPPED = ("git clone ", "cd ", "python3 -m venv ", "source ", "pip install ", "open ", "xdg-open ")
# Variables that would point a run at a real service, or leak into a CI job summary.
_SERVICE_ENV = re.compile(r"^(CEKURA_|PIPECAT_|DAILY_|SPECRUNNER_|GITHUB_STEP_SUMMARY$)")
_SH_BLOCK = re.compile(r"^[ \t]*```sh[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.DOTALL | re.MULTILINE)


def section(text: str, heading: str) -> str:
    assert heading in text, f"no {heading!r} in {QUICKSTART.name}"
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def sh_lines(text: str) -> list[str]:
    """The commands of the ```sh blocks, comments after `#` removed."""
    lines = []
    for block in _SH_BLOCK.findall(text):
        for line in block.splitlines():
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def emulator_commands() -> list[str]:
    """The quickstart's specrunner commands for the emulator, in order; any other line must
    be one of the setup lines we skip on purpose."""
    lines = sh_lines(section(QUICKSTART.read_text(encoding="utf-8"), EMULATOR_SECTION))
    unexpected = [line for line in lines if not line.startswith(("specrunner ", *SKIPPED))]
    assert unexpected == [], "quickstart lines neither run nor skipped on purpose"
    return [line for line in lines if line.startswith("specrunner ")]


def test_the_quickstart_runs_the_emulator_and_writes_a_report() -> None:
    commands = emulator_commands()
    assert any(c.startswith("specrunner run ") and "--emulator" in c for c in commands)
    assert any("-o report.html" in c for c in commands)


def test_quickstart_emulator_commands_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if _SERVICE_ENV.match(name):
            monkeypatch.delenv(name)
    runner = CliRunner()
    for command in emulator_commands():
        args = shlex.split(command)[1:]
        assert "--emulator" in args or args[0] != "run", f"{command}: not on the emulator"
        result = runner.invoke(main, args)
        allowed = {0, 1} if args[0] == "run" else {0}  # the emulator draws outcomes
        assert result.exit_code in allowed, f"{command}\n{result.output}"
    report = tmp_path / "report.html"
    assert report.is_file()
    assert "<html" in report.read_text(encoding="utf-8")[:500].lower()
    assert list((tmp_path / ".specrunner" / "runs").glob("*/results.json"))


def nav_pages(nav: object) -> list[str]:
    """Every page file named anywhere in mkdocs.yml's nav."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    return []


def test_every_docs_page_is_in_the_nav() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = nav_pages(config["nav"])
    on_disk = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert sorted(set(pages) - set(on_disk)) == [], "nav entries without a page"
    assert sorted(set(on_disk) - set(pages)) == [], "pages missing from mkdocs.yml's nav"
    assert pages[0] == "index.md"
    assert len(pages) == len(set(pages))


def test_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([\w.-]+\.md)(?:#[^)]*)?\)", index))
    pages = {p.name for p in DOCS.glob("*.md")} - {"index.md"}
    assert sorted(pages - linked) == []


def test_the_quickstart_and_the_starter_suite_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quickstart starts from what a user has (a clone, or a pip install), names no
    placeholder, and what it says of the starter suite `specrunner init` writes is so:
    its file, its runs, and the keys it tells you to set."""
    text = QUICKSTART.read_text(encoding="utf-8")
    assert "REPOSITORY_URL" not in text and "git clone" not in text
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["init", "my-agent"]).exit_code == 0
    suite = Path("my-agent/specs/smoke.yaml")
    validated = runner.invoke(main, ["validate", str(suite)])
    assert validated.exit_code == 0
    assert f"`{validated.output.strip()}`" in text
    starter = yaml.safe_load(suite.read_text(encoding="utf-8"))
    account = section(text, "## Against your Cekura account")
    assert "set the scenario's `id`" in account and len(starter["scenarios"]) == 1
    assert "`id`" in account and "id" in starter["scenarios"][0]
    assert "the room's `agent_name`" in account and len(starter["rooms"]) == 1
    assert "agent_name" in next(iter(starter["rooms"].values()))
    # `agent` is optional: the starter has it commented out, and the quickstart says so.
    assert "uncomment `agent`" in account and "agent" not in starter
    assert "\n# agent: " in suite.read_text(encoding="utf-8")
    uncommented = suite.read_text(encoding="utf-8").replace("\n# agent: ", "\nagent: ")
    suite.write_text(uncommented, encoding="utf-8")
    assert runner.invoke(main, ["validate", str(suite)]).exit_code == 0
