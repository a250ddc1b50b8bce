"""`specrunner run` checks its `-o` paths and the run directory's folder before anything is
made or sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import compile_dict
from specrunner.app import run_dir, running
from specrunner.app.reports import write_run_report
from specrunner.app.running import RunRequest, execute
from specrunner.errors import ExitCode, UsageError
from specrunner.models import Outcome, RunRecord
from specrunner.report.write import ReportsNotWritten

SUITE = {
    "version": 1,
    "name": "checks",
    "agent": 7,
    "rooms": {"lab": {"source": "static", "url": "https://acme.daily.co/a"}},
    "defaults": {"room": "lab", "timeout": "1m"},
    "scenarios": [{"id": 1, "name": "one"}],
}


@pytest.fixture
def nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    def sent(*_: Any, **__: Any) -> Any:
        raise AssertionError("the run went on after a failed check")

    monkeypatch.setattr(running, "open_clients", sent)
    monkeypatch.setattr(run_dir, "create", sent)


def request(tmp_path: Path, **options: Any) -> RunRequest:
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(SUITE))
    return RunRequest.of(str(suite), workdir=tmp_path, environ={"CEKURA_API_KEY": "k"}, **options)


def refused(req: RunRequest) -> str:
    with pytest.raises(UsageError) as caught:
        execute(req)
    assert caught.value.exit_code == ExitCode.INVALID
    return str(caught.value)


@pytest.mark.usefixtures("nothing_is_sent")
def test_an_output_onto_a_folder_stops_the_run_first(tmp_path: Path) -> None:
    (tmp_path / "out.json").mkdir()
    out = str(tmp_path / "out.json")
    assert refused(request(tmp_path, outputs=(out,))) == f"-o {out}: {out} is a folder, not a file"
    assert not (tmp_path / ".specrunner").exists()


@pytest.mark.usefixtures("nothing_is_sent")
def test_an_output_under_a_file_stops_the_run_first(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("")
    out = str(tmp_path / "out" / "report.json")
    message = refused(request(tmp_path, outputs=(str(tmp_path / "ok.json"), out)))
    assert message == f"-o {out}: {tmp_path / 'out'} is a file, not a folder"


@pytest.mark.usefixtures("nothing_is_sent")
def test_a_file_in_the_run_directorys_way_stops_the_run_first(tmp_path: Path) -> None:
    (tmp_path / ".specrunner").write_text("")
    runs = tmp_path / ".specrunner" / "runs"
    assert refused(request(tmp_path)) == (
        f"cannot make a run directory in {runs}: {tmp_path / '.specrunner'} is a file, not a folder"
    )


def test_a_dry_run_makes_no_run_directory_and_is_not_checked_for_one(tmp_path: Path) -> None:
    (tmp_path / ".specrunner").write_text("")
    result = execute(request(tmp_path, dry_run=True))
    assert result.exit_code == ExitCode.OK


def test_check_parent_makes_nothing(tmp_path: Path) -> None:
    run_dir.check_parent(tmp_path)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / ".specrunner" / "runs").mkdir(parents=True)
    run_dir.check_parent(tmp_path)
    assert list((tmp_path / ".specrunner" / "runs").iterdir()) == []


def test_check_parent_refuses_runs_as_a_file(tmp_path: Path) -> None:
    (tmp_path / ".specrunner").mkdir()
    (tmp_path / ".specrunner" / "runs").write_text("")
    with pytest.raises(UsageError, match=r"runs is a file, not a folder"):
        run_dir.check_parent(tmp_path)


def test_the_results_are_written_when_an_output_cannot_be(tmp_path: Path) -> None:
    the_plan = compile_dict(SUITE)
    records = [RunRecord.of(run, Outcome.NOT_RUN) for run in the_plan.runs]
    (tmp_path / "gone").write_text("")  # became a file after the check
    results = tmp_path / "run" / run_dir.RESULTS
    with pytest.raises(ReportsNotWritten, match=r"gone/r\.html"):
        write_run_report(
            the_plan,
            records,
            secrets=the_plan.secrets,
            outputs=[tmp_path / "gone" / "r.html", tmp_path / "r.md", results],
            started_at=None,
            run_dir=tmp_path / "run",
            workdir=tmp_path,
        )
    assert results.is_file()
    assert (tmp_path / "r.md").is_file()
