"""The Markdown summary for pull requests and the GitHub Actions job summary."""

from __future__ import annotations

import re
from pathlib import Path

from report_factory import cells_report, check_golden, make_report, rejudged

from specrunner.report.markdown import (
    MAX_CELL_ROWS,
    MAX_RUN_LINES,
    append_step_summary,
    md,
    render_markdown,
)

HOSTILE = "<img src=x onerror=alert(1)>"


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ")]


def unescaped(text: str, char: str) -> int:
    """How many times `char` occurs not escaped by a backslash."""
    return len(re.findall(r"(?<!\\)(?:\\\\)*" + re.escape(char), text))


def test_golden_cells_report() -> None:
    check_golden("cells.md", render_markdown(cells_report()))


def test_golden_all_met() -> None:
    report = rejudged(cells_report(), ["order-pizza [locale=en-US]"])
    check_golden("all-met.md", render_markdown(report))


def test_title_and_counts() -> None:
    lines = render_markdown(cells_report()).splitlines()
    assert lines[0] == "## ❌ checkout-cells (staging) failed"
    assert lines[2] == (
        "16 runs: 7 passed, 4 failed, 3 error, 1 unknown, 1 not run · 2/6 cells met "
        "(2 flaky) · pass rate 43.8% · call duration median 88.0 s, p95 127.5 s"
    )
    passing = render_markdown(make_report([["passed"]], duration=None)).splitlines()
    assert passing[0] == "## ✅ made passed"
    assert passing[2] == "1 run: 1 passed · 1/1 cells met · pass rate 100%"


def test_only_failing_and_flaky_cells_are_listed_failing_first() -> None:
    rows = table_rows(render_markdown(cells_report()))[2:]
    assert [row.split(" | ")[0] for row in rows] == ["| ❌ failed"] * 4 + ["| ✅ met"]
    assert "locale=en-US" not in "".join(rows), "a cell that met its rule without flaking"


def test_the_table_survives_hostile_names_and_errors() -> None:
    text = render_markdown(cells_report())
    rows = table_rows(text)
    # 7 columns: 8 unescaped pipes in every row, so no name split a cell.
    assert {unescaped(row, "|") for row in rows} == {8}
    assert unescaped(text, "`") == 0, "a backtick could open a code span"
    assert HOSTILE not in text and "<script" not in text and "<tag" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "@octocat" not in text and "@here" not in text, "a mention would ping someone"
    assert "\\]\\]&gt;" in text, "]]> is shown as text"


def test_md_escapes_what_markdown_and_html_would_read() -> None:
    assert md("a|b") == "a\\|b"
    assert md("line one\nline two\r\n") == "line one line two"
    assert md("`code`") == "\\`code\\`"
    assert md("**bold** _it_ [link](x) ~~s~~") == (
        "\\*\\*bold\\*\\* \\_it\\_ \\[link\\](x) \\~\\~s\\~\\~"
    )
    assert md("<b>&amp;</b>") == "&lt;b&gt;&amp;amp;&lt;/b&gt;"
    assert md("back\\slash") == "back\\\\slash"
    assert md("ask @team or mail a@b.c") == "ask @\u200bteam or mail a@\u200bb.c"
    assert md("x" * 500, 10) == "x" * 9 + "…"


def test_suite_and_environment_are_escaped_in_the_title() -> None:
    report = cells_report()
    report["suite"]["name"] = "nightly | `all`\n# heading"
    report["environment"] = None
    title = render_markdown(report).splitlines()[0]
    assert title == "## ❌ nightly \\| \\`all\\` # heading failed"


def test_cells_over_the_cap() -> None:
    text = render_markdown(make_report([["failed"]] * (MAX_CELL_ROWS + 10)))
    assert len(table_rows(text)) == 2 + MAX_CELL_ROWS
    assert "… and 10 more failing or flaky cells." in text.splitlines()


def test_runs_without_a_verdict_are_listed_briefly_and_capped() -> None:
    text = render_markdown(make_report([["error", "unknown", "not_run"]] * 9))
    lines = text.splitlines()
    assert "**Runs without a verdict from Cekura** (27)" in lines
    items = [line for line in lines if line.startswith("- ")]
    assert len(items) == MAX_RUN_LINES + 1
    assert items[:3] == [
        "- error: scenario-0000 \\[n=0\\], repeat 1: Cekura: the run ended timeout",
        "- unknown: scenario-0000 \\[n=0\\], repeat 2: Cekura: the run ended timeout",
        "- not run: scenario-0000 \\[n=0\\], repeat 3: Cekura: the run ended timeout",
    ]
    assert items[-1] == "- … and 7 more"


def test_all_met_says_so() -> None:
    text = render_markdown(make_report([["passed"]] * 3))
    assert "Every cell (3) met its expect rule; none was flaky." in text
    assert not table_rows(text)


def test_a_report_without_cells() -> None:
    assert "No cells were run." in render_markdown(make_report([]))


def test_a_huge_report_stays_small() -> None:
    report = make_report([["failed", "error"]] * 2000, error="x" * 5000)
    assert len(render_markdown(report)) < 20_000


# The job summary.


def test_no_step_summary_outside_github_actions(tmp_path: Path) -> None:
    assert append_step_summary(cells_report(), {}) is None
    assert append_step_summary(cells_report(), {"GITHUB_STEP_SUMMARY": ""}) is None
    assert list(tmp_path.iterdir()) == []


def test_the_step_summary_is_created(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    assert append_step_summary(cells_report(), {"GITHUB_STEP_SUMMARY": str(summary)}) == summary
    assert summary.read_text(encoding="utf-8") == render_markdown(cells_report())


def test_the_step_summary_is_appended_never_overwritten(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("## Lint\n\nAll good.", encoding="utf-8")
    environ = {"GITHUB_STEP_SUMMARY": str(summary)}
    append_step_summary(cells_report(), environ)
    append_step_summary(make_report([["passed"]]), environ)
    text = summary.read_text(encoding="utf-8")
    expected = (
        "## Lint\n\nAll good.\n\n"
        + render_markdown(cells_report())
        + "\n"
        + render_markdown(make_report([["passed"]]))
    )
    assert text == expected
