"""The last lines of a run: each file it wrote, its run directory and what it left, with
paths as a person in the working directory would type them."""

from __future__ import annotations

from pathlib import Path

from specrunner.app.aftermath import closing_lines, shown_path
from specrunner.models import Outcome, RunRecord

CWD = Path("/work/shop")
RUN_DIR = CWD / ".specrunner" / "runs" / "smoke-20261202T075036Z-864a"


def record(outcome: Outcome, *, run_id: int | None = None, unsent: bool = False) -> RunRecord:
    return RunRecord(
        key=f"k{run_id}",
        scenario_id=1,
        scenario="s",
        cell={},
        repeat=1,
        outcome=outcome,
        run_id=run_id,
        unsent=unsent,
    )


def test_paths_under_the_working_directory_are_shown_relative() -> None:
    assert shown_path(RUN_DIR / "results.json", CWD) == (
        ".specrunner/runs/smoke-20261202T075036Z-864a/results.json"
    )
    assert shown_path("out/report.html", CWD) == "out/report.html"
    assert shown_path("/tmp/report.html", CWD) == "/tmp/report.html"


def test_a_run_says_each_file_it_wrote_then_its_run_directory() -> None:
    lines = closing_lines(
        RUN_DIR,
        [record(Outcome.PASSED, run_id=1)],
        ["report.html", Path("/tmp/out.json"), RUN_DIR / "results.json"],
        cwd=CWD,
    )
    assert lines == [
        "wrote report.html",
        "wrote /tmp/out.json",
        "wrote .specrunner/runs/smoke-20261202T075036Z-864a/results.json",
        "run directory: .specrunner/runs/smoke-20261202T075036Z-864a",
    ]


def test_the_step_summary_is_named_by_its_variable_never_its_value() -> None:
    lines = closing_lines(None, [], ["r.md"], cwd=CWD, step_summary=True)
    assert lines == ["wrote r.md", "appended the summary to $GITHUB_STEP_SUMMARY"]


def test_live_and_unsent_runs_get_the_commands_that_follow_them_up() -> None:
    records = [record(Outcome.UNKNOWN, run_id=7), record(Outcome.NOT_RUN, unsent=True)]
    lines = closing_lines(RUN_DIR, records, [], cwd=CWD)
    where = ".specrunner/runs/smoke-20261202T075036Z-864a"
    assert lines == [
        f"run directory: {where}",
        "left: 1 run still live in Cekura and 1 never sent. To follow them to the end "
        "(and send the rest):",
        f"  specrunner run --resume {where}",
        "or to end them and give their rooms back:",
        f"  specrunner cancel {where}",
    ]


def test_a_run_directory_elsewhere_is_shown_whole_and_quoted() -> None:
    elsewhere = Path("/data/my runs/smoke-1")
    lines = closing_lines(elsewhere, [record(Outcome.NOT_RUN, unsent=True)], [], cwd=CWD)
    assert lines[0] == "run directory: /data/my runs/smoke-1"
    assert lines[-1] == "  specrunner run --resume '/data/my runs/smoke-1'"
