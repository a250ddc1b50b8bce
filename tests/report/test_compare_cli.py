"""`specrunner compare` on saved reports: what it prints, writes and exits with, and one
clear message naming the file for each report it cannot compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from report_factory import make_report

from specrunner.cli import main
from specrunner.report.records import OutcomeName, Report
from specrunner.report.write import render_json


def write(path: Path, report: Report | dict[str, Any]) -> str:
    path.write_text(render_json(report), encoding="utf-8")
    return path.name


def cells(*passes: int) -> list[list[OutcomeName]]:
    return [["passed"] * n + ["failed"] * (10 - n) for n in passes]


def compare(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["compare", *args], env=env)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    write(tmp_path / "base.json", make_report(cells(10, 10, 5)))
    write(tmp_path / "new.json", make_report(cells(0, 9, 5)))
    return tmp_path


def test_it_prints_the_changes_writes_each_file_and_exits_1_on_a_regression(here: Path) -> None:
    result = compare("base.json", "new.json", "-o", "d.md", "-o", "sub/d.html", "-o", "d.json")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == "REGRESSED  made: 1 regressed, 0 improved, 2 unchanged"
    assert lines[-3:] == ["wrote d.md", "wrote sub/d.html", "wrote d.json"]
    assert (here / "d.md").read_text().startswith("<!-- specrunner-compare -->\n## ❌ made")
    assert json.loads((here / "d.json").read_text())["summary"]["regressed"] == 1
    assert "<html" in (here / "sub" / "d.html").read_text()


def test_the_step_summary_gets_the_markdown(here: Path) -> None:
    summary = here / "summary.md"
    summary.write_text("earlier\n")
    result = compare("base.json", "new.json", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    assert "appended the Markdown summary to $GITHUB_STEP_SUMMARY" in result.output
    assert str(summary) not in result.output
    assert summary.read_text().startswith("earlier\n\n<!-- specrunner-compare -->")


def test_a_looser_alpha_finds_more(here: Path) -> None:
    write(here / "mid.json", make_report(cells(10, 10, 10)))
    write(here / "worse.json", make_report(cells(10, 10, 6)))  # p = 0.043, three cells tested
    assert compare("mid.json", "worse.json").exit_code == 0
    assert compare("mid.json", "worse.json", "--alpha", "0.2").exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.json", "new.json"], "compare: missing.json: no such file"),
        (["base.json", "new.json", "-o", "d.txt"], "-o d.txt: the extension names no comparison "
         "format (.html, .json, .md)"),
        (["base.json", "new.json", "-o", "dir.md"], "-o dir.md: dir.md is a folder, not a file"),
    ],
)  # fmt: skip
def test_unusable_arguments_are_exit_2(here: Path, args: list[str], message: str) -> None:
    (here / "dir.md").mkdir()
    result = compare(*args)
    assert result.exit_code == 2, result.output
    assert result.output == f"specrunner: error: {message}\n"
    assert not (here / "d.txt").exists()


def test_reports_of_two_suites_are_exit_2(here: Path) -> None:
    other = make_report(cells(10))
    other["suite"]["name"] = "billing"
    write(here / "other.json", other)
    result = compare("base.json", "other.json")
    assert result.exit_code == 2
    assert result.output == (
        "specrunner: error: compare: base.json is a report of suite 'made' and other.json of "
        "suite 'billing': compare two reports of one suite\n"
    )


def test_no_cell_in_common_is_exit_2(here: Path) -> None:
    other = make_report(cells(10))
    other["cells"][0]["scenario"] = "elsewhere"
    write(here / "other.json", other)
    result = compare("base.json", "other.json")
    assert result.exit_code == 2
    assert "base.json and other.json have no cell in common" in result.output


def test_nothing_with_a_verdict_on_both_sides_is_exit_2(here: Path) -> None:
    write(here / "lost.json", make_report([["unknown"] * 3, ["not_run"] * 2]))
    result = compare("base.json", "lost.json")
    assert result.exit_code == 2
    assert "compare: no cell of both base.json and lost.json has a run that reached a verdict" in (
        result.output
    )


def test_a_report_with_its_own_comparison_compares_as_any_other(here: Path) -> None:
    first = compare("base.json", "new.json", "-o", "d.json")
    assert first.exit_code == 1
    report = json.loads((here / "new.json").read_text())
    report["comparison"] = json.loads((here / "d.json").read_text())
    write(here / "carried.json", report)
    again = compare("base.json", "carried.json")
    assert again.exit_code == 1
    assert again.output.splitlines()[0] == first.output.splitlines()[0]
