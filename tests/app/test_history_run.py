"""The history end to end: real `run --emulator`s record their reports, `history` shows
them, `merge` records the whole plan, `history import` skips what it holds, and a history
that cannot be written never changes how a run ends."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from specrunner.cli import main

SUITE = """\
version: 1
name: pool
rooms:
  lab:
    source: static
    rooms:
      - {url: "https://acme.daily.co/lab-1", token: "{{ env.LAB_TOKEN }}"}
      - {url: "https://acme.daily.co/lab-2", token: "{{ env.LAB_TOKEN }}"}
defaults:
  publish_data_message: {caller: "{{ env.CALLER_SECRET }}"}
scenarios:
  - {id: 30, name: a, repeat: 2}
  - {id: 31, name: b}
"""
# Quick calls, any reply order; scenario 31 fails when `failing`.
EMULATOR = "time_scale: 50\ncekura:\n  defaults: {duration: [1, 3], pass_probability: 1.0}\n"
FAILING = EMULATOR + '  scenarios:\n    "31": {outcome: failed}\n'
SECRETS = ("tok-lab-secret-1", "caller-secret-2")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pool.yaml").write_text(SUITE, encoding="utf-8")
    (tmp_path / "emu.yaml").write_text(EMULATOR, encoding="utf-8")
    (tmp_path / "failing.yaml").write_text(FAILING, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAB_TOKEN", SECRETS[0])
    monkeypatch.setenv("CALLER_SECRET", SECRETS[1])
    # The default place, in this test's folder.
    monkeypatch.delenv("SPECRUNNER_HISTORY", raising=False)
    for name in ("CEKURA_API_KEY", "CEKURA_API_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def run(*args: str, config: str = "emu.yaml") -> Result:
    return cli("run", "pool.yaml", "--emulator-config", config, "--poll-interval", "0.05", *args)


def recorded(path: Path) -> int:
    with sqlite3.connect(path) as db:
        count: int = db.execute("SELECT count(*) FROM reports").fetchone()[0]
    db.close()
    return count


DEFAULT = Path(".specrunner") / "history.sqlite"


def test_two_runs_are_recorded_and_shown_with_their_charts(workdir: Path) -> None:
    first = run("-o", "first.html")
    assert first.exit_code == 0, first.output
    second = run("-o", "second.html", "-o", "second.json", config="failing.yaml")
    assert second.exit_code == 1, second.output
    assert recorded(workdir / DEFAULT) == 2

    shown = cli("history", "pool.yaml")
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("pool (no environment): the last 2 runs of 2 recorded")
    assert "  a          100%  2/2  ✓✓" in shown.output.splitlines()
    assert "  b           50%  1/2  ✗✓" in shown.output.splitlines()
    assert "  b: not met since the run finished" in shown.output
    data = json.loads(cli("history", "pool", "--format", "json", "--last", "1").output)
    assert [r["passed"] for r in data["runs"]] == [False]

    # The first run had no history to draw; the second draws both runs.
    assert 'id="pass-rate-chart"' not in (workdir / "first.html").read_text()
    page = (workdir / "second.html").read_text()
    assert 'id="pass-rate-chart"' in page and 'id="sparklines"' in page
    assert "Pass rate of the last 2 runs, oldest first: 100%, 66.7%" in page

    # Its JSON report is the run's own: importing it records nothing new.
    imported = cli("history", "import", "second.json")
    assert imported.exit_code == 0
    assert imported.output == "skipped second.json: already recorded\n"
    assert recorded(workdir / DEFAULT) == 2


def test_no_history_records_nothing_and_draws_no_history_chart(workdir: Path) -> None:
    done = run("--no-history", "-o", "r.html")
    assert done.exit_code == 0, done.output
    assert not (workdir / ".specrunner" / "history.sqlite").exists()
    page = (workdir / "r.html").read_text()
    assert 'id="pass-rate-chart"' not in page and 'id="durations-chart"' in page


def test_the_environment_variable_and_the_option_move_it(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPECRUNNER_HISTORY", str(workdir / "elsewhere" / "h.sqlite"))
    assert run().exit_code == 0
    assert run("--history", "given.sqlite").exit_code == 0
    assert not (workdir / DEFAULT).exists()
    assert recorded(workdir / "elsewhere" / "h.sqlite") == 1
    assert recorded(workdir / "given.sqlite") == 1
    assert "the last 1 run of 1 recorded" in cli("history", "pool").output


def test_no_secret_reaches_the_history(workdir: Path) -> None:
    assert run("-o", "r.json").exit_code == 0
    stored = b"".join(p.read_bytes() for p in (workdir / ".specrunner").glob("history.sqlite*"))
    assert b"pool" in stored
    for secret in SECRETS:
        assert secret.encode() not in stored


@pytest.mark.parametrize("kind", ["a file in the way", "not a database"])
def test_a_history_that_cannot_be_written_is_one_warning_and_the_exit_code_stands(
    workdir: Path, kind: str
) -> None:
    if kind == "a file in the way":
        (workdir / "blocked").write_text("a file, not a folder")
        path = "blocked/h.sqlite"
    else:
        path = "broken.sqlite"
        (workdir / path).write_bytes(b"this is no database " * 200)
    done = run("--history", path, "-o", "r.html", config="failing.yaml")
    assert done.exit_code == 1, done.output  # scenario 31 fails: the run's own verdict
    warnings = [line for line in done.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "the history was not written" in warnings[0]
    assert "Traceback" not in done.output
    assert (workdir / "r.html").exists()


def test_merge_records_the_whole_plan_and_history_leaves_the_shards_out(workdir: Path) -> None:
    for shard in ("1/2", "2/2"):
        done = run("--shard", shard, "-o", f"s{shard[0]}.json")
        assert done.exit_code == 0, done.output
    only_shards = cli("history", "pool")
    assert only_shards.exit_code == 2
    assert "holds only reports of shards" in only_shards.output
    merged = cli("merge", "s1.json", "s2.json", "-o", "merged.html")
    assert merged.exit_code == 0, merged.output
    # Each shard that had runs, then the merge (a shard of no runs is not recorded).
    shards = [json.loads((workdir / f"s{i}.json").read_text())["runs"] for i in (1, 2)]
    assert recorded(workdir / DEFAULT) == sum(bool(runs) for runs in shards) + 1
    assert "the last 1 run of 1 recorded" in cli("history", "pool").output


def test_import_records_reports_from_elsewhere_once(workdir: Path) -> None:
    assert run("--no-history", "-o", "ci.json").exit_code == 0
    (workdir / "not-a-report.json").write_text('{"hello": 1}')
    first = cli("history", "import", "ci.json", "not-a-report.json", "missing.json")
    assert first.exit_code == 2
    lines = first.output.splitlines()
    assert lines[0].startswith("not imported: not-a-report.json: not a specrunner report")
    assert lines[1] == "not imported: missing.json: no such file"
    assert lines[2].startswith("recorded ci.json: pool, finished ")
    again = cli("history", "import", "ci.json")
    assert again.exit_code == 0 and again.output == "skipped ci.json: already recorded\n"
    assert recorded(workdir / DEFAULT) == 1


def test_report_draws_the_history_and_records_nothing(workdir: Path) -> None:
    assert run().exit_code == 0
    assert run("-o", "last.json").exit_code == 0
    drawn = cli("report", "last.json", "-o", "again.html")
    assert drawn.exit_code == 0, drawn.output
    assert 'id="pass-rate-chart"' in (workdir / "again.html").read_text()
    assert recorded(workdir / DEFAULT) == 2
    plain = cli("report", "last.json", "-o", "plain.html", "--no-history")
    assert plain.exit_code == 0
    assert 'id="pass-rate-chart"' not in (workdir / "plain.html").read_text()


def test_history_says_what_it_holds_when_the_suite_is_not_there(workdir: Path) -> None:
    nothing = cli("history", "pool")
    assert nothing.exit_code == 2
    assert "no history here (nothing was recorded yet)" in nothing.output
    assert run().exit_code == 0
    unknown = cli("history", "pol")
    assert unknown.exit_code == 2
    assert "no run of suite 'pol' is recorded" in unknown.output
    assert "did you mean 'pool'?" in unknown.output
    other = cli("history", "pool", "--env", "production")
    assert other.exit_code == 2 and "in environment 'production'" in other.output
    # `import` is a subcommand; a suite of that name is shown with `history show`.
    named = cli("history", "show", "import")
    assert named.exit_code == 2 and "no run of suite 'import'" in named.output


def test_outside_git_the_commit_is_the_one_ci_names(tmp_path: Path) -> None:
    from specrunner.app.reports import git_commit

    assert git_commit(tmp_path, {}) is None
    assert git_commit(tmp_path, {"GITHUB_SHA": "A" * 40}) == "a" * 40
    assert git_commit(tmp_path, {"CI_COMMIT_SHA": "0123abcd" * 5}) == "0123abcd" * 5
    assert git_commit(tmp_path, {"GITHUB_SHA": "not a commit; rm -rf /"}) is None
