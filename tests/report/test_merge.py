"""`specrunner merge` knows what is missing: the shards' reports record their whole plan,
and merge checks that they are one plan cut one way, each shard given once and whole.
A missing shard is an error naming it; with --allow-partial its runs count as not run and
their cells are not met."""

from __future__ import annotations

import copy
import gc
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from conftest import REPO, compile_dict, compile_text
from specrunner.app import reports
from specrunner.cli import main
from specrunner.errors import UsageError
from specrunner.models import Outcome, Plan, RunRecord
from specrunner.report.build import build_report
from specrunner.report.html import render_html
from specrunner.report.junit import render_junit
from specrunner.report.markdown import render_markdown
from specrunner.report.planned import fingerprint
from specrunner.report.records import Report
from specrunner.report.saved import merge_reports
from specrunner.report.shards import Shard
from specrunner.report.write import render_json
from specrunner.schemas import load_schema

SUITE: dict[str, Any] = {
    "version": 1,
    "name": "shards",
    "rooms": {
        "bot": {
            "source": "pipecat_cloud",
            "agent_name": "bot",
            "api_key": "{{ env.PIPECAT_CLOUD_API_KEY }}",
        }
    },
    "defaults": {"publish_data_message": {"key": "{{ run.key }}"}},
    "scenarios": [
        {
            "id": 30,
            "name": "order",
            "tags": ["smoke"],
            "matrix": {"locale": ["en", "es"]},
            "repeat": 3,
            "expect": {"pass_rate": 0.5},
        },
        {"id": 31, "name": "refund", "repeat": 4, "expect": {"min_passes": 1}},
    ],
}
PLANNED_RUNS = 10

Outcomes = Callable[[str], Outcome]


def passed(key: str) -> Outcome:
    return Outcome.PASSED


def report_of(plan: Plan, outcome: Outcomes = passed, **options: Any) -> Report:
    records = [RunRecord.of(run, outcome(run.key)) for run in plan.runs]
    return build_report(
        plan,
        records,
        started_at="2026-11-21T06:00:00Z",
        finished_at="2026-11-21T06:10:00Z",
        run_dir=None,
        git_commit=None,
        **options,
    ).report


def shard(index: int, count: int, outcome: Outcomes = passed, suite: Any = None) -> Report:
    plan = compile_dict(suite or SUITE, shard=(index, count))
    return report_of(plan, outcome)


def shards(count: int, outcome: Outcomes = passed) -> list[Report]:
    return [shard(i, count, outcome) for i in range(1, count + 1)]


def names(reports: Sequence[Report]) -> list[str]:
    return [f"shard-{i}.json" for i in range(1, len(reports) + 1)]


def merged(reports: Sequence[Report], **options: Any) -> Report:
    return merge_reports(list(reports), names(reports), **options)


def refusal(reports: Sequence[Report], given: Sequence[str] | None = None, **options: Any) -> str:
    with pytest.raises(UsageError) as caught:
        merge_reports(list(reports), list(given or names(reports)), **options)
    assert caught.value.exit_code == 2
    return str(caught.value)


def valid(report: Report) -> None:
    errors = Draft202012Validator(load_schema("report")).iter_errors(report)
    assert [e.message for e in errors] == []


def a_split(count: int) -> tuple[list[Report], list[str]]:
    """The reports of `count` shards, every shard holding runs (the test checks it)."""
    reports = shards(count)
    assert all(r["runs"] for r in reports), "a shard of this split holds no run"
    return reports, names(reports)


# ---- what every report records of its plan


def test_each_shards_report_records_the_whole_plan() -> None:
    whole = compile_dict(SUITE)
    reports, _ = a_split(3)
    all_keys = [run.key for run in whole.runs]
    for report in reports:
        valid(report)
        plan = report["plan"]
        assert plan["runs"] == PLANNED_RUNS
        assert [k for cell in plan["cells"] for k in cell["keys"]] == all_keys
        assert [c["label"] for c in plan["cells"]] == ["locale=en", "locale=es", "-"]
        assert plan["cells"][2]["expect"] == {"min_passes": 1}
        assert plan["cells"][0]["room"] == "bot"
        assert plan["fingerprint"] == fingerprint(report)
    # One plan: one fingerprint, whatever the shard; its runs are split between them.
    assert len({r["plan"]["fingerprint"] for r in reports}) == 1
    assert sorted(run["key"] for r in reports for run in r["runs"]) == sorted(all_keys)


def test_the_fingerprint_follows_the_plan_not_the_shard_or_the_file() -> None:
    base = shard(1, 2)["plan"]["fingerprint"]
    more = copy.deepcopy(SUITE)
    more["scenarios"][1]["repeat"] = 5
    stricter = copy.deepcopy(SUITE)
    stricter["scenarios"][0]["expect"] = {"pass_rate": 1.0}
    tagged = compile_dict(SUITE, shard=(1, 2), tags=("smoke",))
    assert shard(2, 2)["plan"]["fingerprint"] == base
    assert shard(1, 2, suite=more)["plan"]["fingerprint"] != base
    assert shard(1, 2, suite=stricter)["plan"]["fingerprint"] != base
    assert report_of(tagged)["plan"]["fingerprint"] != base
    moved = shard(1, 2)
    moved["suite"]["file"] = "elsewhere/suite.yaml"  # another CI runner's checkout
    assert fingerprint(moved) == base


def test_secrets_in_the_plan_are_masked_and_the_shards_still_merge() -> None:
    suite = copy.deepcopy(SUITE)
    suite["scenarios"][1] = {"id": "{{ env.REFUND_ID }}", "name": "refund", "repeat": 4}
    environ = {"REFUND_ID": "987654321"}
    reports = [report_of(compile_dict(suite, shard=(i, 2), environ=environ)) for i in (1, 2)]
    text = "".join(render_json(r) for r in reports)
    assert "987654321" not in text
    assert reports[0]["plan"]["cells"][2]["scenario_id"] == "***"
    assert merged(reports)["verdict"]["runs"] == PLANNED_RUNS


def test_the_json_report_writes_the_plans_cells_one_per_line() -> None:
    report = shard(1, 2)
    text = render_json(report)
    assert json.loads(text) == report
    lines = text.splitlines()
    start = lines.index('    "cells": [')
    cells = lines[start + 1 : start + 4]
    assert [json.loads(line.strip().rstrip(",")) for line in cells] == report["plan"]["cells"]


# ---- merging


def test_every_shard_merges_into_the_report_of_the_whole_plan() -> None:
    def outcome(key: str) -> Outcome:
        return Outcome.FAILED if key < "8" else Outcome.PASSED  # about half of them

    _, given = a_split(3)
    reports = shards(3, outcome)
    whole = report_of(compile_dict(SUITE), outcome)
    assert 0 < whole["verdict"]["outcomes"]["failed"] < PLANNED_RUNS
    # The order the reports are given in does not matter: runs follow the plan.
    result = merge_reports(reports[::-1], given[::-1])
    valid(result)
    assert result["cells"] == whole["cells"]
    assert result["verdict"] == whole["verdict"]
    assert result["runs"] == whole["runs"]
    assert result["selection"]["shard"] is None
    assert result["plan"]["merged"] == ["1/3", "2/3", "3/3"]
    assert result["plan"]["missing"] == []
    assert "stopped" not in result


def test_one_report_of_a_whole_plan_merges_alone() -> None:
    whole = report_of(compile_dict(SUITE))
    result = merged([whole])
    assert result["plan"]["merged"] == ["1/1"]
    assert result["verdict"] == whole["verdict"]


def test_merge_reads_and_joins_the_shards_with_the_collector_paused(tmp_path: Path) -> None:
    """As `specrunner report` does (`reports._collector_paused`): then as it was."""
    path = tmp_path / "whole.json"
    path.write_text(json.dumps(report_of(compile_dict(SUITE))), encoding="utf-8")
    seen: list[bool] = []

    def trend(_report: Any, _runs: Any) -> None:
        seen.append(gc.isenabled())

    reports.merge([str(path)], [str(tmp_path / "merged.json")], trend=trend)
    assert seen == [False] and gc.isenabled()
    with pytest.raises(UsageError):
        reports.merge([str(path), str(path)], [str(tmp_path / "twice.json")])
    assert gc.isenabled()


def test_a_missing_shard_is_an_error_that_names_it() -> None:
    reports, _ = a_split(3)
    runs = len(reports[2]["runs"])
    assert refusal(reports[:2]) == (
        f"merge: shard 3/3 is missing ({runs} of the plan's {PLANNED_RUNS} runs): merge its "
        "report too, or pass --allow-partial to merge without it (its runs then count as "
        "not run)"
    )
    four, _ = a_split(4)
    lost = len(four[1]["runs"]) + len(four[3]["runs"])
    assert refusal([four[2], four[0]]) == (
        f"merge: shards 2/4 and 4/4 are missing ({lost} of the plan's {PLANNED_RUNS} runs): "
        "merge their reports too, or pass --allow-partial to merge without them (their "
        "runs then count as not run)"
    )


def test_a_shard_of_no_runs_is_not_missing() -> None:
    suite = copy.deepcopy(SUITE)
    suite["scenarios"] = [{"id": 31, "name": "refund", "repeat": 2}]
    reports = [shard(i, 6, suite=suite) for i in range(1, 7)]
    holding = [r for r in reports if r["runs"]]
    assert len(holding) < len(reports)  # the split this test is about
    result = merge_reports(holding, names(holding))
    assert result["verdict"]["runs"] == 2 and result["verdict"]["passed"]
    assert result["plan"]["missing"] == []


def test_allow_partial_counts_the_missing_runs_as_not_run() -> None:
    reports, _ = a_split(3)
    # The refund cell (min_passes 1) has runs in more than one shard: drop a shard that
    # holds some of them, so the cell has passes and missing runs at once.
    refund = reports[0]["plan"]["cells"][2]["keys"]
    holders = [i for i, r in enumerate(reports) if {x["key"] for x in r["runs"]} & set(refund)]
    assert len(holders) > 1
    dropped = holders[-1]
    kept = [r for i, r in enumerate(reports) if i != dropped]
    lost = {run["key"] for run in reports[dropped]["runs"]}
    result = merged(kept, allow_partial=True)
    valid(result)
    assert result["plan"]["missing"] == [f"{dropped + 1}/3"]
    assert result["plan"]["merged"] == [f"{i + 1}/3" for i in range(3) if i != dropped]
    assert result["verdict"]["runs"] == PLANNED_RUNS
    assert result["verdict"]["outcomes"]["not_run"] == len(lost)
    assert result["verdict"]["passed"] is False
    not_run = [r for r in result["runs"] if r["outcome"] == "not_run"]
    assert {r["key"] for r in not_run} == lost
    for run in not_run:
        assert run["error"] == (
            f"not merged: shard {dropped + 1}/3 is missing (merge --allow-partial)"
        )
        assert run["room"] == "bot" and run["run_id"] is None
    for cell in result["cells"]:
        # Every run that was merged passed: a cell is met exactly when none is missing.
        assert cell["met"] is not (set(cell["keys"]) & lost), cell["id"]
    refund_cell = result["cells"][2]
    assert refund_cell["outcomes"]["passed"] >= 1  # its rule alone would be met


def test_a_shard_given_twice_is_an_error() -> None:
    reports, _ = a_split(2)
    assert refusal([reports[0], reports[1], reports[0]], ["a.json", "b.json", "c.json"]) == (
        "merge: a.json and c.json are both shard 1/2: give each shard once"
    )


def test_two_reports_of_the_whole_plan_are_an_error() -> None:
    whole = report_of(compile_dict(SUITE))
    assert refusal([whole, whole], ["monday.json", "tuesday.json"]) == (
        "merge: monday.json and tuesday.json are both reports of the whole plan (run without "
        "--shard): merge the reports of a plan's shards, each once"
    )


def test_shards_cut_into_different_numbers_are_an_error() -> None:
    assert refusal([shard(1, 2), shard(2, 3)], ["a.json", "b.json"]) == (
        "merge: b.json is shard 2/3 and a.json is shard 1/2: the shards of one plan are cut "
        "into one number of parts (one N in --shard I/N)"
    )


def test_shards_of_a_suite_that_changed_between_them_are_an_error() -> None:
    more = copy.deepcopy(SUITE)
    more["scenarios"][1]["repeat"] = 5
    first, second = shard(1, 2), shard(2, 2, suite=more)
    message = refusal([first, second], ["a.json", "b.json"])
    assert message == (
        "merge: b.json and a.json are not shards of one plan: their scenarios, cells, "
        "rules, rooms or repeats differ (plans "
        f"{second['plan']['fingerprint']} and {first['plan']['fingerprint']}); run every "
        "shard from one version of the suite"
    )


def test_reports_of_other_suites_environments_or_selections_are_an_error() -> None:
    other = copy.deepcopy(SUITE)
    other["name"] = "other"
    assert "differ in suite" in refusal([shard(1, 2), shard(2, 2, suite=other)])
    tagged = report_of(compile_dict(SUITE, shard=(2, 2), tags=("smoke",)))
    assert "were selected differently" in refusal([shard(1, 2), tagged])


def test_a_report_that_does_not_record_its_plan_is_refused() -> None:
    old = shard(1, 2)
    del old["plan"]  # as specrunner wrote reports before they recorded their plan
    assert refusal([old, shard(2, 2)], ["old.json", "new.json"]) == (
        "merge: old.json does not record its plan (specrunner 0.1.0 wrote it): run its "
        "shard again with this specrunner to merge it"
    )


def test_a_report_changed_after_it_was_written_is_refused() -> None:
    changed = shard(1, 2)
    changed["plan"]["cells"][0]["expect"] = {"pass_rate": 0.0}
    assert refusal([changed, shard(2, 2)], ["a.json", "b.json"]) == (
        "merge: a.json: its plan does not match its fingerprint (the report was changed "
        "after it was written)"
    )


def test_a_merged_report_is_not_merged_again() -> None:
    reports, _ = a_split(2)
    whole = merged(reports)
    assert refusal([whole, reports[0]], ["merged.json", "a.json"]) == (
        "merge: merged.json is a merged report: merge the shards' own reports"
    )


def test_a_report_must_hold_exactly_its_shards_runs() -> None:
    reports, _ = a_split(2)
    moved = copy.deepcopy(reports)
    moved[0]["runs"].append(moved[1]["runs"].pop())
    key = moved[0]["runs"][-1]["key"]
    assert refusal(moved, ["a.json", "b.json"]) == (
        f"merge: a.json holds run {key}, which its plan does not put in shard 1/2"
    )
    short = copy.deepcopy(reports)
    gone = short[1]["runs"].pop(0)["key"]
    assert refusal(short, ["a.json", "b.json"]).startswith(
        f"merge: b.json lacks 1 run of shard 2/2 (run {gone}): it is not the whole report"
    )
    twice = copy.deepcopy(reports)
    twice[0]["runs"].append(twice[0]["runs"][0])
    assert refusal(twice, ["a.json", "b.json"]) == (
        f"merge: a.json holds run {twice[0]['runs'][0]['key']} twice"
    )


def test_a_shard_that_stopped_early_says_so_in_the_merge() -> None:
    reports, _ = a_split(2)
    reports[1]["stopped"] = "interrupted"
    assert merged(reports)["stopped"] == "shard 2/2: interrupted"


def test_a_shard_that_is_not_i_of_n_is_refused() -> None:
    reports, _ = a_split(2)
    reports[1]["selection"]["shard"] = "second"
    assert refusal(reports, ["a.json", "b.json"]) == (
        "merge: b.json: its selection.shard 'second' is not I/N"
    )


def test_a_key_that_is_not_a_run_key_is_in_no_shard() -> None:
    assert Shard(1, 1).holds("00ff")
    assert not Shard(1, 2).holds("not-hex")


# ---- the command line


def write(folder: Path, reports: Sequence[Report]) -> list[str]:
    paths = []
    for i, report in enumerate(reports, start=1):
        path = folder / f"shard-{i}.json"
        path.write_text(render_json(report), encoding="utf-8")
        paths.append(str(path))
    return paths


def test_merge_prints_what_it_joined_and_each_file_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    reports, _ = a_split(3)
    paths = write(Path(), reports)
    runner = CliRunner(env={"GITHUB_STEP_SUMMARY": None})
    done = runner.invoke(main, ["merge", *paths, "-o", "merged.json", "-o", "out/report.html"])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        f"merged shards 1/3, 2/3 and 3/3 of shards: {PLANNED_RUNS} runs, 3/3 cells met",
        "wrote merged.json",
        "wrote out/report.html",
    ]
    assert "None" not in done.output
    assert Path("out/report.html").is_file()

    missing = runner.invoke(main, ["merge", *paths[:2], "-o", "partial.json"])
    assert missing.exit_code == 2
    assert missing.output.startswith("specrunner: error: merge: shard 3/3 is missing (")
    assert not Path("partial.json").exists()

    partial = runner.invoke(main, ["merge", *paths[:2], "-o", "partial.json", "--allow-partial"])
    lost = len(reports[2]["runs"])
    assert partial.exit_code == 1, partial.output
    assert partial.output.splitlines() == [
        f"merged shards 1/3 and 2/3 of shards: {PLANNED_RUNS} runs, "
        f"{json.loads(Path('partial.json').read_text())['verdict']['cells_passed']}/3 cells met",
        f"partial: shard 3/3 is missing: its {lost} run{'s' if lost > 1 else ''} "
        f"count{'' if lost > 1 else 's'} as not run",
        "wrote partial.json",
    ]


def test_report_prints_each_file_it_wrote_and_never_the_step_summarys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (saved,) = write(Path(), [report_of(compile_dict(SUITE))])
    summary = tmp_path / "secret-runner-folder" / "summary.md"
    summary.parent.mkdir()
    runner = CliRunner(env={"GITHUB_STEP_SUMMARY": str(summary)})
    done = runner.invoke(main, ["report", saved, "-o", "x.html", "-o", "x.xml"])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "wrote x.html",
        "wrote x.xml",
        "appended the Markdown summary to $GITHUB_STEP_SUMMARY",
    ]
    assert "secret-runner-folder" not in done.output
    assert summary.read_text(encoding="utf-8").startswith("## ")


def test_report_still_reads_a_report_that_does_not_record_its_plan(tmp_path: Path) -> None:
    old = report_of(compile_dict(SUITE))
    del old["plan"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    out = tmp_path / "again.json"
    done = CliRunner().invoke(main, ["report", str(path), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert json.loads(out.read_text(encoding="utf-8")) == old


def test_the_troubleshooting_page_shows_the_merge_messages_verbatim() -> None:
    """The example there: shards 1/3 and 2/3 of specs/smoke.yaml, the third missing."""
    text = (REPO / "specs" / "smoke.yaml").read_text(encoding="utf-8")
    reports = [report_of(compile_text(text, shard=(i, 3))) for i in (1, 2, 3)]
    given = ["shard-1.json", "shard-2.json"]
    page = (REPO / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    messages = [
        refusal(reports[:2], given),
        refusal([reports[0], reports[0]], ["shard-1.json", "shard-1-again.json"]),
    ]
    for message in messages:
        assert f"specrunner: error: {message}\n" in page, message
    lost = len(reports[2]["runs"])
    assert f"shard 3/3 is missing: its {lost} run counts as not run" in page


def test_every_view_of_a_partial_merge_says_what_is_missing() -> None:
    reports, _ = a_split(3)
    partial = merged(reports[:2], allow_partial=True)
    lost = len(reports[2]["runs"])
    note = f"shard 3/3 is missing: its {_runs(lost)} count{'s' if lost == 1 else ''} as not run"
    page = render_html(partial)
    assert f"<dt>Partial merge</dt><dd>{note}</dd>" in page
    assert "<dt>Shards merged</dt><dd>1/3, 2/3</dd>" in page
    assert f"**Partial merge:** {note}." in render_markdown(partial)
    properties = {
        p.get("name"): p.get("value") for p in ET.fromstring(render_junit(partial)).iter("property")
    }
    assert properties["merge.shards"] == "1/3, 2/3" and properties["merge.missing"] == "3/3"
    whole = merged(reports)
    assert "Partial merge" not in render_html(whole)
    assert "Partial merge" not in render_markdown(whole)
    assert "None" not in render_markdown(whole)
    assert "merge.missing" not in render_junit(whole)


def _runs(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"
