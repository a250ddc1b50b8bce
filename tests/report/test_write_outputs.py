"""`-o` paths are checked before anything runs, and every report that can be written is."""

from __future__ import annotations

import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from report_factory import cells_report

from specrunner.cli import main
from specrunner.errors import ExitCode, UsageError
from specrunner.report import write
from specrunner.report.records import Report
from specrunner.report.write import (
    ReportsNotWritten,
    check_outputs,
    file_problem,
    folder_problem,
    write_reports,
)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def refused(path: str) -> str:
    with pytest.raises(UsageError) as caught:
        check_outputs([path])
    assert caught.value.exit_code == ExitCode.INVALID
    return str(caught.value)


def test_paths_that_can_be_written_pass_and_nothing_is_made(here: Path) -> None:
    (here / "old.json").write_text("{}")
    (here / "there").mkdir()
    check_outputs(["r.json", "old.json", "there/r.html", "new/deeper/r.xml", str(here / "r.md")])
    assert files(here) == {"old.json", "there"}


def test_a_folder_is_not_a_report(here: Path) -> None:
    (here / "out.json").mkdir()
    assert refused("out.json") == "-o out.json: out.json is a folder, not a file"


def test_a_file_where_a_folder_should_be(here: Path) -> None:
    (here / "out").write_text("")
    assert refused("out/report.json") == "-o out/report.json: out is a file, not a folder"
    assert refused("out/a/b/report.json") == "-o out/a/b/report.json: out is a file, not a folder"


def test_an_unwritable_folder(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(**_: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    (here / "locked").mkdir()
    monkeypatch.setattr(tempfile, "mkstemp", denied)
    assert (
        refused("locked/r.json") == "-o locked/r.json: cannot write in locked (Permission denied)"
    )
    assert refused("locked/new/r.json") == (
        "-o locked/new/r.json: cannot make folders in locked (Permission denied)"
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_for_real(here: Path) -> None:
    locked = here / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert refused("locked/r.json").startswith("-o locked/r.json: cannot write in locked")
    finally:
        locked.chmod(0o700)


def test_the_probe_leaves_nothing_behind(here: Path) -> None:
    assert folder_problem(here) is None
    assert file_problem(here / "x" / "y" / "r.json") is None
    assert files(here) == set()


def test_the_extension_is_still_checked_first(here: Path) -> None:
    (here / "out").mkdir()
    assert refused("out").startswith("-o out: the extension names no report format")


# -- writing


def test_every_writable_report_is_written_and_the_others_named(here: Path) -> None:
    (here / "blocked").write_text("")
    report = cells_report()
    targets = [Path("a.json"), Path("blocked/b.html"), Path("sub/c.md"), Path("d.json")]
    with pytest.raises(ReportsNotWritten) as caught:
        write_reports(report, targets)
    error = caught.value
    assert isinstance(error, UsageError)
    assert [path for path, _ in error.failed] == [Path("blocked/b.html")]
    assert str(error).startswith("could not write 1 report: blocked/b.html: ")
    assert files(here) == {"a.json", "blocked", "sub", "sub/c.md", "d.json"}


def test_several_failures_are_named_together(here: Path) -> None:
    (here / "f").write_text("")
    with pytest.raises(
        ReportsNotWritten, match=r"could not write 2 reports: f/a\.json: .*; f/b\.md"
    ):
        write_reports(cells_report(), [Path("f/a.json"), Path("ok.json"), Path("f/b.md")])
    assert (here / "ok.json").is_file()


def test_a_renderer_bug_is_raised_after_the_others_are_written(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_: Report) -> str:
        raise KeyError("bug")

    known = write.renderers()
    monkeypatch.setattr(
        write, "renderers", lambda trend=None, runs=None: {**known, ".html": broken}
    )
    with pytest.raises(KeyError) as caught:
        write_reports(cells_report(), [Path("a.html"), Path("b.json")])
    assert "while writing the report a.html" in (caught.value.__notes__ or [])
    assert files(here) == {"b.json"}


def test_a_nan_is_never_written(here: Path) -> None:
    report = cells_report()
    report["runs"][0]["duration_seconds"] = float("nan")
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_reports(report, [Path("r.json"), Path("r.md")])
    assert files(here) == {"r.md"}


@pytest.mark.parametrize("command", ["run", "report", "merge"])
def test_the_output_options_help_names_exactly_the_formats_written(
    command: str, here: Path
) -> None:
    """`-o`'s help names each extension a report writer takes, and no other; each is
    written in its format."""
    option = next(p for p in main.commands[command].params if p.name == "outputs")
    named = set(re.findall(r"(?<![\w.])\.[a-z]+\b", option.help or ""))
    assert named == set(write.renderers()) == set(write.REPORT_FORMATS), option.help
    report = cells_report()
    write_reports(report, [Path(f"out{ext}") for ext in sorted(named)])
    assert json.loads(Path("out.json").read_text(encoding="utf-8")) == report
    assert Path("out.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert ET.parse("out.xml").getroot().tag == "testsuites"
    assert Path("out.md").read_text(encoding="utf-8").startswith("## ")
