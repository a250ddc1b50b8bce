"""`specrunner run`: plan, set up the run directory and the clients, execute, write results.

Everything a run does is recorded in its run directory, `.specrunner/runs/<run-id>/` under
the working directory: `journal.jsonl` (see journal.py) and `results.json`. `--resume
RUN_DIR` rebuilds the same plan from the journal's start record and takes up from there.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specrunner import __version__
from specrunner.errors import ExitCode, UsageError
from specrunner.execute.journal import JOURNAL, Journal, replay
from specrunner.models import Outcome, Plan, RunRecord

RESULTS = "results.json"


@dataclass(frozen=True, slots=True)
class RunRequest:
    suite: str | None
    environment: str | None = None
    sets: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    shard: str | None = None
    concurrency: int = 10
    batch_size: int = 10
    poll_interval: float = 1.0
    emulator: bool = False
    resume: str | None = None
    dry_run: bool = False
    outputs: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    workdir: Path = field(default_factory=Path.cwd)


@dataclass(frozen=True, slots=True)
class RunResult:
    plan: Plan
    records: tuple[RunRecord, ...]
    run_dir: Path | None
    exit_code: int
    cells_failed: int = 0
    report: Mapping[str, Any] = field(default_factory=dict)
    """The JSON report (schemas/report.v1.json)."""

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(record.outcome.value for record in self.records))


def execute(request: RunRequest, progress: Callable[[Any], None] | None = None) -> RunResult:
    """Run a suite to the end (or resume one); the result knows its exit code."""
    from specrunner.report.write import check_outputs

    check_outputs(request.outputs)
    if request.concurrency < 1 or request.batch_size < 1 or request.poll_interval <= 0:
        raise UsageError(
            "--concurrency and --batch-size must be at least 1, and --poll-interval more than 0"
        )
    run_dir, start = _resumed(request) if request.resume else (None, None)
    selection = start["request"] if start else None
    plan = _plan(request, selection)
    if start is not None and list(start["keys"]) != [run.key for run in plan.runs]:
        raise UsageError(
            f"--resume {request.resume}: the suite or its selection changed since "
            "that run started; its plan no longer matches the journal"
        )
    if request.dry_run:
        records = tuple(_not_run(plan))
        report = _write_outputs(request, plan, records, None)
        return RunResult(plan, records, None, ExitCode.OK, report=report)
    with _environment(request) as environ:
        if not environ.get("CEKURA_API_KEY"):
            raise UsageError(
                "CEKURA_API_KEY is not set: export your Cekura API key "
                "(or try the suite with --emulator)"
            )
        started_at = start.get("started_at") if start else _now_iso()
        if run_dir is None:
            run_dir = _new_run_dir(request, plan, started_at)
        records, report = asyncio.run(
            _execute(request, plan, environ, run_dir, start, started_at, progress)
        )
    verdict = report["verdict"]
    code = ExitCode.OK if verdict["passed"] else ExitCode.EXPECTATIONS_NOT_MET
    return RunResult(plan, records, run_dir, code, verdict["cells_failed"], report=report)


def _plan(request: RunRequest, selection: Mapping[str, Any] | None) -> Plan:
    from specrunner.app import PlanRequest, plan

    if selection is not None:
        return plan(
            PlanRequest(
                suite=selection["suite"],
                environment=selection["environment"],
                sets=tuple(selection["sets"]),
                tags=tuple(selection["tags"]),
                scenarios=tuple(selection["scenarios"]),
                shard=selection["shard"],
                environ=request.environ,
            )
        )
    assert request.suite is not None
    return plan(
        PlanRequest(
            suite=request.suite,
            environment=request.environment,
            sets=request.sets,
            tags=request.tags,
            scenarios=request.scenarios,
            shard=request.shard,
            environ=request.environ,
        )
    )


def _resumed(request: RunRequest) -> tuple[Path, dict[str, Any]]:
    assert request.resume is not None
    run_dir = Path(request.resume)
    journal = run_dir / JOURNAL
    if not journal.is_file():
        raise UsageError(
            f"--resume {request.resume}: no {JOURNAL} there; give the run "
            "directory that `specrunner run` printed"
        )
    try:
        return run_dir, dict(replay(journal).start)
    except (ValueError, KeyError) as exc:
        raise UsageError(f"--resume {request.resume}: the journal cannot be read ({exc})") from None


@contextmanager
def _environment(request: RunRequest) -> Iterator[Mapping[str, str]]:
    """The environment the clients use: pointed at an in-process emulator if asked."""
    if not request.emulator:
        yield request.environ
        return
    from specrunner.emulator import Emulator, EmulatorConfig

    with Emulator(EmulatorConfig()) as emulator:
        yield {**request.environ, **emulator.environment()}


def _new_run_dir(request: RunRequest, plan: Plan, started_at: str | None) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = (
        request.workdir
        / ".specrunner"
        / "runs"
        / (f"{plan.suite_name}-{stamp}-{secrets.token_hex(2)}")
    )
    run_dir.mkdir(parents=True)
    journal = Journal(run_dir / JOURNAL)
    journal.write(
        "start",
        version=1,
        specrunner=__version__,
        started_at=started_at,
        request={
            "suite": str(Path(plan.suite_file).resolve()),
            "environment": plan.environment,
            "sets": list(request.sets),
            "tags": list(request.tags),
            "scenarios": list(request.scenarios),
            "shard": request.shard,
        },
        keys=[run.key for run in plan.runs],
    )
    journal.close()
    return run_dir


async def _execute(
    request: RunRequest,
    plan: Plan,
    environ: Mapping[str, str],
    run_dir: Path,
    start: Mapping[str, Any] | None,
    started_at: str | None,
    progress: Callable[[Any], None] | None,
) -> tuple[tuple[RunRecord, ...], dict[str, Any]]:
    import httpx

    from specrunner.cekura import CekuraClient
    from specrunner.execute.executor import Executor, Settings
    from specrunner.retry import RetryPolicy
    from specrunner.rooms.build import build_room_source

    needed = {run.room for run in plan.runs}
    configs = {name: plan.rooms[name].render(environ) for name in sorted(needed)}
    journal = Journal(run_dir / JOURNAL)
    records: tuple[RunRecord, ...] = ()
    timeout = httpx.Timeout(30.0, connect=10.0)
    limits = httpx.Limits(max_connections=max(20, request.concurrency * 2))
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        retry = RetryPolicy()
        cekura = CekuraClient.from_environ(http, environ, retry)
        sources = {
            name: build_room_source(config, http=http, environ=environ, retry=retry)
            for name, config in configs.items()
        }
        executor = Executor(
            plan,
            cekura=cekura,
            sources=sources,
            journal=journal,
            settings=Settings(
                concurrency=request.concurrency,
                batch_size=request.batch_size,
                poll_interval=request.poll_interval,
            ),
            progress=progress,
        )
        if start is not None:
            executor.restore(replay(run_dir / JOURNAL))
        try:
            records = tuple(await executor.run())
        finally:
            records = records or tuple(executor.records())
            for source in sources.values():
                await source.close()
            journal.close()
            report = _write_outputs(request, plan, records, run_dir, started_at)
    return records, report


def _not_run(plan: Plan) -> list[RunRecord]:
    return [
        RunRecord(
            key=run.key,
            scenario_id=run.scenario_id,
            scenario=run.scenario,
            cell=run.cell,
            repeat=run.repeat,
            outcome=Outcome.NOT_RUN,
            error="dry run: nothing was sent",
        )
        for run in plan.runs
    ]


def _write_outputs(
    request: RunRequest,
    plan: Plan,
    records: tuple[RunRecord, ...],
    run_dir: Path | None,
    started_at: str | None = None,
) -> dict[str, Any]:
    """The JSON report, written to the run directory and to every -o path."""
    from specrunner.report.build import build_report
    from specrunner.report.write import write_reports

    report = build_report(
        plan,
        records,
        started_at=started_at,
        finished_at=_now_iso(),
        run_dir=str(run_dir) if run_dir is not None else None,
        git_commit=_git_commit(request.workdir),
    )
    targets = [Path(output) for output in request.outputs]
    if run_dir is not None:
        targets.append(run_dir / RESULTS)
    write_reports(report, targets)
    return report


def _git_commit(folder: Path) -> str | None:
    import subprocess

    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
