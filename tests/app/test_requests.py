"""The one selection record: the CLI, specrunner.run and the journal all go through
PlanRequest, so a selection option is declared once."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from conftest import MINIMAL, write_suite
from specrunner.app import run_dir
from specrunner.app.planning import PlanRequest, plan
from specrunner.app.running import RunRequest
from specrunner.cli import main
from specrunner.errors import UsageError
from specrunner.execute.journal_records import JOURNAL


def _option_names(command: str) -> set[str]:
    group = main
    assert isinstance(group, click.Group)
    found = group.commands[command]
    return {param.name for param in found.params if param.name}


@pytest.mark.parametrize("command", ["plan", "run"])
def test_the_cli_offers_every_selection_field_as_an_option(command: str) -> None:
    assert set(PlanRequest.selection_fields()) <= _option_names(command)


def test_a_request_survives_the_journal_unchanged() -> None:
    request = PlanRequest(
        "specs/x.yaml",
        environment="staging",
        sets=("a=1", "b.c=[2]"),
        tags=("smoke",),
        scenarios=("30",),
        shard="2/3",
    )
    written = json.loads(json.dumps(request.as_json()))
    assert PlanRequest.from_json(written) == request


def test_a_journal_written_before_this_record_still_reads() -> None:
    # The start record's `request` has always had these keys, with lists for tuples.
    older = {
        "suite": "/abs/suite.yaml",
        "environment": None,
        "sets": [],
        "tags": ["a"],
        "scenarios": [],
        "shard": None,
    }
    assert PlanRequest.from_json(older) == PlanRequest("/abs/suite.yaml", tags=("a",))
    assert PlanRequest.from_json(older).max_runs is None  # added later: its default


def test_the_run_directory_records_the_plan_it_made_and_resume_reads_it(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, MINIMAL)
    request = PlanRequest(str(suite), tags=())
    planned = plan(request, environ={})
    made = run_dir.create(tmp_path, request, planned, "2026-01-01T00:00:00Z")
    resumed = run_dir.resume(str(made))
    assert resumed.request == PlanRequest(str(suite.resolve()), environment=None)
    assert resumed.keys == tuple(run.key for run in planned.runs)
    assert resumed.started_at == "2026-01-01T00:00:00Z"


def test_a_damaged_start_record_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / JOURNAL).write_text(
        json.dumps({"type": "start", "keys": [], "request": {"suite": "x"}}) + "\n"
    )
    with pytest.raises(UsageError, match="the journal cannot be read"):
        run_dir.resume(str(tmp_path))


def test_run_options_by_name_go_to_the_records_that_own_them() -> None:
    request = RunRequest.of("s.yaml", tags=("a",), shard="1/2", concurrency=3, dry_run=True)
    assert request.plan == PlanRequest("s.yaml", tags=("a",), shard="1/2")
    assert (request.concurrency, request.dry_run) == (3, True)


def test_an_unknown_run_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="'concurency'"):
        RunRequest.of("s.yaml", concurency=3)


def test_resume_takes_no_selection() -> None:
    assert RunRequest.of(None, resume="dir").plan is None
    with pytest.raises(UsageError, match="drop tags"):
        RunRequest.of(None, resume="dir", tags=("a",))
