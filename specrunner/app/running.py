"""`specrunner run` (and `specrunner.run`): plan, set up the run directory and the
clients, execute the plan, write the reports; or continue a run with `--resume`."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from specrunner.app import run_dir as run_dirs
from specrunner.app.clients import open_clients, run_environment
from specrunner.app.planning import PlanRequest, plan
from specrunner.app.reports import now_iso, step_summary, write_run_report
from specrunner.cekura import api_key
from specrunner.errors import ExitCode, UsageError
from specrunner.execute.executor import Executor, Settings
from specrunner.execute.journal import JOURNAL, Journal, replay
from specrunner.models import Outcome, Plan, RunRecord, Snapshot
from specrunner.report.console import console_summary
from specrunner.report.progress import ProgressView
from specrunner.report.records import Report
from specrunner.report.write import check_outputs


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What to run (`plan`, or the run directory to `resume`) and how."""

    plan: PlanRequest | None
    """The suite and selection; None with `resume`, whose journal has them."""
    concurrency: int = 10
    batch_size: int = 10
    poll_interval: float = 1.0
    emulator: bool = False
    resume: str | None = None
    dry_run: bool = False
    outputs: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    workdir: Path = field(default_factory=Path.cwd)

    @classmethod
    def of(cls, suite: str | None, **options: Any) -> RunRequest:
        """A request from keyword options: the selection's (see `PlanRequest`) and this
        record's own. Unknown names are a TypeError, as for any function."""
        selection = {k: options.pop(k) for k in PlanRequest.selection_fields() if k in options}
        own = {f.name for f in dataclasses.fields(cls)} - {"plan"}
        unknown = sorted(set(options) - own)
        if unknown:
            raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
        if suite is None:
            if any(selection.values()):
                raise UsageError(
                    "--resume takes the selection from the journal: drop "
                    + ", ".join(sorted(k for k, v in selection.items() if v))
                )
            return cls(plan=None, **options)
        return cls(plan=PlanRequest(suite, **selection), **options)


@dataclass(frozen=True, slots=True)
class RunResult:
    plan: Plan
    records: tuple[RunRecord, ...]
    run_dir: Path | None
    exit_code: int
    report: Report
    """The JSON report (schemas/report.v1.json)."""
    cells_failed: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(record.outcome.value for record in self.records))


def run_suite(
    request: RunRequest, out: Callable[[str], None], progress: TextIO, *, interactive: bool = False
) -> int:
    """`specrunner run`: execute, show progress on `progress`, and a summary on `out`."""
    view = ProgressView(progress, interactive=interactive)
    try:
        result = execute(request, view.update)
    finally:
        view.close()
    for line in console_summary(result.report):
        out(line)
    for path in [*request.outputs, *step_summary(result.report, request.environ)]:
        out(f"report: {path}")
    if result.run_dir is not None:
        out(f"run directory: {result.run_dir}")
    return result.exit_code


def execute(request: RunRequest, progress: Callable[[Snapshot], None] | None = None) -> RunResult:
    """Run a suite to the end (or resume one); the result knows its exit code."""
    check_outputs(request.outputs)
    if request.concurrency < 1 or request.batch_size < 1 or request.poll_interval <= 0:
        raise UsageError(
            "--concurrency and --batch-size must be at least 1, and --poll-interval more than 0"
        )
    resumed = run_dirs.resume(request.resume) if request.resume else None
    planned = resumed.request if resumed is not None else request.plan
    if planned is None:
        raise UsageError("give either a suite or a run directory to resume")
    the_plan = plan(planned, request.environ)
    if resumed is not None and list(resumed.keys) != [run.key for run in the_plan.runs]:
        raise UsageError(
            f"--resume {request.resume}: the suite or its selection changed since "
            "that run started; its plan no longer matches the journal"
        )
    outputs = [Path(output) for output in request.outputs]
    if request.dry_run:
        records = tuple(_not_run(the_plan))
        report = write_run_report(
            the_plan,
            records,
            secrets=the_plan.secrets,
            outputs=outputs,
            started_at=None,
            run_dir=None,
            workdir=request.workdir,
        )
        return RunResult(the_plan, records, None, ExitCode.OK, report)

    with run_environment(request.environ, emulator=request.emulator) as environ:
        api_key(environ)
        started_at = (resumed.started_at if resumed else None) or now_iso()
        if resumed is not None:
            run_dir = resumed.run_dir
        else:
            assert request.plan is not None
            run_dir = run_dirs.create(request.workdir, request.plan, the_plan, started_at)
        records, report = asyncio.run(
            _execute(request, the_plan, environ, run_dir, started_at, progress, resumed=resumed)
        )
    verdict = report["verdict"]
    code = ExitCode.OK if verdict["passed"] else ExitCode.EXPECTATIONS_NOT_MET
    return RunResult(the_plan, records, run_dir, code, report, verdict["cells_failed"])


async def _execute(
    request: RunRequest,
    the_plan: Plan,
    environ: Mapping[str, str],
    run_dir: Path,
    started_at: str,
    progress: Callable[[Snapshot], None] | None,
    *,
    resumed: run_dirs.Resumed | None,
) -> tuple[tuple[RunRecord, ...], Report]:
    # Room templates are rendered now, with the run's environment; the secrets they read
    # join the plan's, for every message and report of this run.
    used = sorted({run.room for run in the_plan.runs})
    rooms = {name: the_plan.rooms[name].render(environ) for name in used}
    secrets = the_plan.secrets.plus(*(config.secrets for config in rooms.values()))
    journal = Journal(run_dir / JOURNAL)
    executor: Executor | None = None
    records: tuple[RunRecord, ...] = ()
    report: Report | None = None
    try:
        async with open_clients(rooms, environ, concurrency=request.concurrency) as clients:
            executor = Executor(
                the_plan,
                cekura=clients.cekura,
                sources=clients.sources,
                journal=journal,
                settings=Settings(
                    concurrency=request.concurrency,
                    batch_size=request.batch_size,
                    poll_interval=request.poll_interval,
                ),
                secrets=secrets,
                progress=progress,
            )
            if resumed is not None:
                executor.restore(replay(run_dir / JOURNAL))
            records = tuple(await executor.run())
    finally:
        journal.close()
        if executor is not None:  # a run that got as far as executing always has a report
            report = write_run_report(
                the_plan,
                records or tuple(executor.records()),
                secrets=secrets,
                outputs=[*(Path(o) for o in request.outputs), run_dir / run_dirs.RESULTS],
                started_at=started_at,
                run_dir=run_dir,
                workdir=request.workdir,
            )
    assert report is not None  # the executor ran, or the exception went on above
    return records, report


def _not_run(the_plan: Plan) -> list[RunRecord]:
    return [
        RunRecord.of(run, Outcome.NOT_RUN, error="dry run: nothing was sent")
        for run in the_plan.runs
    ]
