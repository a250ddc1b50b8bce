"""`specrunner run` (and `specrunner.run`): plan, check the configuration, set up the run
directory and the clients, execute the plan, write the reports; or continue a run with
`--resume`.

Nothing is made before the configuration is known to work: the rooms are rendered (every
secret they need is set) and the clients built (every URL may be called) before the run
directory exists. From then on every ending, whatever it is, writes the reports and says
where the run directory is and what to do about runs left live or unsent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from specrunner.app import run_dir as run_dirs
from specrunner.app.aftermath import closing_lines
from specrunner.app.clients import (
    Clients,
    check_clients,
    default_submissions,
    open_clients,
    run_environment,
)
from specrunner.app.clock import now_iso
from specrunner.app.collecting import few_collections
from specrunner.app.confirming import Ask, confirm
from specrunner.app.planning import PlanRequest, plan
from specrunner.cekura import api_key
from specrunner.errors import ExitCode, SpecrunnerError, UsageError
from specrunner.execute.executor import Executor, Settings
from specrunner.execute.journal import Journal
from specrunner.execute.journal_records import JOURNAL
from specrunner.execute.replay import replay
from specrunner.masking import SecretTracker
from specrunner.models import Plan, PlannedRun, RoomConfig, RunRecord, Snapshot
from specrunner.report.comparison import DEFAULT_ALPHA, check_alpha
from specrunner.report.progress import progress_view
from specrunner.report.write import check_outputs
from specrunner.rooms.static import rooms_of
from specrunner.wrapping import DEFAULT_WIDTH

# The code of the reports, the history, the comparison with a baseline and the dry run is
# imported where it is used: a run's start-up, up to its first submission, imports only
# what sending needs (about a tenth of it was the report code, needed once the runs end).
if TYPE_CHECKING:
    from specrunner.app.comparing import Baseline
    from specrunner.app.history import HistorySettings
    from specrunner.dry_run_view import DryRun
    from specrunner.report.charts import Trend
    from specrunner.report.json_text import ItemsJson
    from specrunner.report.records import Report


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What to run (`plan`, or the run directory to `resume`) and how."""

    plan: PlanRequest | None
    """The suite and selection; None with `resume`, whose journal has them."""
    concurrency: int = 10
    batch_size: int = 10
    submissions: int | None = None
    """Submissions (POSTs) in flight at once, at most; None: `default_submissions`."""
    poll_interval: float = 1.0
    emulator: bool = False
    emulator_config: str | None = None
    """The in-process emulator's configuration file (implies `emulator`)."""
    resume: str | None = None
    dry_run: bool = False
    outputs: tuple[str, ...] = ()
    on_interrupt: str = "leave"
    """On the first Ctrl-C (or SIGTERM): `leave` live runs for --resume, or `end` them."""
    baseline: str | None = None
    """A report to compare the run's with (`--baseline`): read and checked before anything
    is sent; a significant regression makes the exit code 1."""
    alpha: float = DEFAULT_ALPHA
    """The false discovery rate of the comparison with `baseline`."""
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    workdir: Path = field(default_factory=Path.cwd)
    history: str | None = None
    """The history's file (default: $SPECRUNNER_HISTORY, else .specrunner/history.sqlite)."""
    no_history: bool = False
    """Record nothing in the history, and draw no chart that needs it."""

    @property
    def history_settings(self) -> HistorySettings:
        from specrunner.app.history import HistorySettings  # read once the runs are done

        return HistorySettings(self.history, self.no_history, self.environ, self.workdir)

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
    stopped: str | None = None
    """Why the run stopped before its end (an interrupt), or None."""

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(record.outcome.value for record in self.records))


@dataclass(slots=True)
class _Ending:
    """What a run that got as far as its run directory leaves, for its last lines."""

    run_dir: Path
    records: tuple[RunRecord, ...] = ()
    report: Report | None = None


def run_suite(
    request: RunRequest,
    out: Callable[[str], None],
    progress: TextIO,
    *,
    interactive: bool = False,
    width: int | None = DEFAULT_WIDTH,
    ask: Ask | None = None,
) -> int:
    """`specrunner run`: execute, show progress on `progress` (a live bar when it is a
    terminal), then the verdict and each file written on `out`; with `dry_run`, what would
    be sent instead, laid out for `width` (None: never wrapped). `ask` is asked before a
    run that may spend much (`app.confirming`); None: never."""
    if request.dry_run:
        from specrunner.app import dry_run as dry_runs  # only a dry run

        return dry_runs.show(_dry_run(request), out, width=width, emulator=_emulator(request))
    view = progress_view(
        progress, interactive=interactive and request.environ.get("TERM") != "dumb"
    )
    ending: list[_Ending] = []
    cwd = Path.cwd()
    try:
        result = execute(request, view.update, ending=ending, note=view.note, ask=ask)
    except BaseException as error:
        view.close()
        for ended in ending:
            report = ended.report
            written = _written(request, ended.run_dir) if report is not None else []
            summary = _step_summary(report, request.environ)
            for line in closing_lines(
                ended.run_dir, ended.records, written, cwd=cwd, step_summary=summary
            ):
                error.add_note(line)
        raise
    view.close()
    from specrunner.report.console import console_summary  # once the runs are done

    for line in console_summary(result.report):
        out(line)
    if result.stopped is not None:
        out(f"stopped early ({result.stopped}): the results above are partial")
    summary = _step_summary(result.report, request.environ)
    written = _written(request, result.run_dir)
    for line in closing_lines(
        result.run_dir, result.records, written, cwd=cwd, step_summary=summary
    ):
        out(line)
    return result.exit_code


def _step_summary(report: Report | None, environ: Mapping[str, str]) -> bool:
    """Whether the run's report was summed up in $GITHUB_STEP_SUMMARY."""
    if report is None:
        return False
    from specrunner.app.reports import step_summary  # once the runs are done

    return bool(step_summary(report, environ))


def _written(request: RunRequest, run_dir: Path | None) -> list[Path | str]:
    """The reports a run wrote: those asked for with -o, then its results.json."""
    written: list[Path | str] = [*request.outputs]
    if run_dir is not None:
        written.append(run_dir / run_dirs.RESULTS)
    return written


def execute(
    request: RunRequest,
    progress: Callable[[Snapshot], None] | None = None,
    *,
    ending: list[_Ending] | None = None,
    note: Callable[[str], None] = lambda line: None,
    ask: Ask | None = None,
) -> RunResult:
    """Run a suite to the end (or resume one); the result knows its exit code.

    Before anything is made, `ask` (when given) is asked whether to send runs that may
    spend much (`app.confirming`: never with the emulator); NotConfirmed unless it says yes.

    Once the run directory exists, `ending` (when given) holds what the run leaves, also
    when it ends with an exception, so that its caller can say so.

    A dry run returns every run `not_run` and exit code 0, or raises the error the run
    would stop with (a secret that is not set)."""
    if request.dry_run:
        from specrunner.app import dry_run as dry_runs  # only a dry run

        dry = _dry_run(request)
        dry_runs.check(dry, emulator=_emulator(request))
        return _not_sent(dry.plan, request.workdir)
    check_outputs(request.outputs)
    if not request.resume:
        run_dirs.check_parent(request.workdir)
    _check_settings(request)
    resumed = run_dirs.resume(request.resume) if request.resume else None
    planned = resumed.request if resumed is not None else request.plan
    if planned is None:
        raise UsageError("give either a suite or a run directory to resume")
    the_plan = plan(planned, request.environ)
    if resumed is not None:
        run_dirs.check_resume(resumed, the_plan, str(request.resume))
    baseline = _baseline(request, the_plan)
    emulator = _emulator(request) or (resumed is not None and resumed.emulator)
    pools = _static_pools(the_plan, request.environ) if emulator else []
    with (
        few_collections(),
        run_environment(
            request.environ,
            emulator=emulator,
            config_path=request.emulator_config,
            static_rooms=pools,
            note=note,
        ) as environ,
    ):
        key = api_key(environ)
        # Room templates are rendered now, with the run's environment: a missing secret
        # stops the run before anything is made. The secrets they read join the plan's,
        # with the API key; each room's token and URL join them when it is leased.
        used = sorted({run.room for run in the_plan.runs})
        rooms = {name: the_plan.rooms[name].render(environ) for name in used}
        secrets = SecretTracker(
            the_plan.secrets.plus(*(config.secrets for config in rooms.values()))
        )
        secrets.add(key)
        if not emulator:
            confirm(
                _sendable(the_plan, resumed),
                ask,
                planned=None if resumed is None else len(the_plan.runs),
                ready=lambda: check_clients(rooms, environ, concurrency=request.concurrency),
            )
        holder = [] if ending is None else ending
        try:
            return asyncio.run(
                _execute(
                    request,
                    the_plan,
                    rooms,
                    secrets,
                    environ,
                    progress,
                    holder,
                    resumed=resumed,
                    baseline=baseline,
                    note=note,
                )
            )
        except asyncio.CancelledError:  # a second Ctrl-C: stopped at once
            raise KeyboardInterrupt from None


async def _execute(
    request: RunRequest,
    the_plan: Plan,
    rooms: Mapping[str, RoomConfig],
    secrets: SecretTracker,
    environ: Mapping[str, str],
    progress: Callable[[Snapshot], None] | None,
    holder: list[_Ending],
    *,
    resumed: run_dirs.Resumed | None,
    baseline: Baseline | None,
    note: Callable[[str], None],
) -> RunResult:
    async with open_clients(
        rooms, environ, concurrency=request.concurrency, submissions=submissions_of(request)
    ) as clients:
        # The configuration works: now the run directory is made (or taken).
        if resumed is not None:
            run_dir, started_at = resumed.run_dir, resumed.started_at or now_iso()
        else:
            started_at = now_iso()
            assert request.plan is not None
            run_dir = run_dirs.create(
                request.workdir,
                request.plan,
                the_plan,
                started_at,
                emulator=request.emulator or request.emulator_config is not None,
            )
        ending = _Ending(run_dir)
        holder.append(ending)
        with run_dirs.lock(run_dir):
            return await _run(
                request,
                the_plan,
                secrets,
                clients,
                run_dir,
                started_at,
                progress,
                ending,
                resumed=resumed,
                baseline=baseline,
                note=note,
            )


async def _run(
    request: RunRequest,
    the_plan: Plan,
    secrets: SecretTracker,
    clients: Clients,
    run_dir: Path,
    started_at: str,
    progress: Callable[[Snapshot], None] | None,
    ending: _Ending,
    *,
    resumed: run_dirs.Resumed | None,
    baseline: Baseline | None,
    note: Callable[[str], None],
) -> RunResult:
    journal = Journal(run_dir / JOURNAL, secrets=secrets)
    executor = Executor(
        the_plan,
        cekura=clients.cekura,
        sources=clients.sources,
        journal=journal,
        settings=Settings(
            concurrency=request.concurrency,
            batch_size=request.batch_size,
            submissions=submissions_of(request),
            poll_interval=request.poll_interval,
        ),
        secrets=secrets,
        progress=progress,
    )
    if resumed is not None:
        lost = LOST_WITH_EMULATOR if resumed.emulator else None
        executor.restore(replay(run_dir / JOURNAL), lost_live=lost)
    records: tuple[RunRecord, ...] = ()
    failure: BaseException | None = None

    def trend(report: Report, runs: ItemsJson | None) -> Trend | None:
        """A run that got to its end is recorded in the history; one that did not is not,
        but its charts still show the history before it."""
        from specrunner.app.history import keep, trend_of  # once the runs are done
        from specrunner.history.entries import Source

        if failure is None and executor.stopped is None:
            return keep(report, Source.RUN, request.history_settings, note, runs)
        return trend_of(report, request.history_settings)

    try:
        with _signals(executor, end_calls=request.on_interrupt == "end", note=note):
            records = tuple(await executor.run())
    except BaseException as error:
        failure = error
        raise
    finally:
        journal.close()
        ending.records = records or tuple(executor.records())
        from specrunner.app.reports import write_run_report  # once the runs are done

        try:
            ending.report = write_run_report(
                the_plan,
                ending.records,
                secrets=secrets.secrets,
                outputs=[*(Path(o) for o in request.outputs), run_dir / run_dirs.RESULTS],
                started_at=started_at,
                run_dir=run_dir,
                workdir=request.workdir,
                stopped=executor.stopped,
                baseline=baseline,
                trend=trend,
            )
        except Exception as unwritten:
            if failure is None:
                raise
            # The run's own ending says more; what could not be written goes with it.
            failure.add_note(f"and the reports could not all be written: {unwritten}")
    report = ending.report
    assert report is not None
    from specrunner.app.reports import verdict_code  # once the runs are done

    verdict = report["verdict"]
    code = ExitCode.INTERRUPTED if executor.stopped is not None else verdict_code(report)
    return RunResult(
        the_plan, records, run_dir, code, report, verdict["cells_failed"], executor.stopped
    )


def _sendable(the_plan: Plan, resumed: run_dirs.Resumed | None) -> Iterator[PlannedRun]:
    """The runs a run of `the_plan` may send: all, or those a resumed one never sent."""
    for run in the_plan.runs:
        if resumed is None or run.key in resumed.unsent:
            yield run


def _static_pools(the_plan: Plan, environ: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """The rooms of the plan's static pools, for the in-process emulator to hold, whatever
    their domain. A pool that cannot be rendered yet is left out: rendering it again
    with the emulator running says what is wrong."""
    found: list[tuple[str, str | None]] = []
    for name in sorted({run.room for run in the_plan.runs}):
        spec = the_plan.rooms[name]
        if spec.source != "static":
            continue
        try:
            rooms = rooms_of(spec.render(environ))
        except SpecrunnerError:
            continue
        found += [(room.url, room.token) for room in rooms]
    return found


STOPPING_LEAVE = (
    "stopping: no more runs are sent; live runs are left running for --resume "
    "(interrupt again to stop at once)"
)
STOPPING_END = (
    "stopping: no more runs are sent; the live calls are being ended "
    "(interrupt again to stop at once)"
)

LOST_WITH_EMULATOR = (
    "it ran in the in-process emulator of the run that was interrupted, which is gone "
    "with that process"
)


@contextmanager
def _signals(executor: Executor, *, end_calls: bool, note: Callable[[str], None]) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM stops the run gracefully, and says so at once (the
    ending may take a while: a submission in flight, calls being ended); a second stops it
    at once."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    installed: list[signal.Signals] = []

    def on_signal() -> None:
        if executor.stopped is None:
            executor.stop(end_calls=end_calls)
            note(STOPPING_END if end_calls else STOPPING_LEAVE)
        elif main is not None:
            main.cancel()

    for number in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(number, on_signal)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            continue
        installed.append(number)
    try:
        yield
    finally:
        for number in installed:
            loop.remove_signal_handler(number)


def submissions_of(request: RunRequest) -> int:
    if request.submissions is not None:
        return request.submissions
    return default_submissions(request.concurrency)


def _check_settings(request: RunRequest) -> None:
    if (
        min(request.concurrency, request.batch_size, submissions_of(request)) < 1
        or request.poll_interval <= 0
    ):
        raise UsageError(
            "--concurrency, --batch-size and --submissions must be at least 1, and "
            "--poll-interval more than 0"
        )
    if request.on_interrupt not in ("leave", "end"):
        raise UsageError(f"--on-interrupt {request.on_interrupt!r}: give leave or end")


def _baseline(request: RunRequest, the_plan: Plan) -> Baseline | None:
    """The baseline of `--baseline`, checked against the plan (nothing is sent yet)."""
    if request.baseline is None:
        check_alpha(request.alpha)
        return None
    from specrunner.app.comparing import baseline_for_plan  # only with --baseline

    return baseline_for_plan(request.baseline, the_plan, alpha=request.alpha)


def _emulator(request: RunRequest) -> bool:
    return request.emulator or request.emulator_config is not None


def _dry_run(request: RunRequest) -> DryRun:
    """The dry run of `request`, checked as far as a run is before it makes anything."""
    from specrunner.app import dry_run as dry_runs  # only a dry run

    dry_runs.check_request(request.plan, resume=request.resume, outputs=request.outputs)
    assert request.plan is not None
    _check_settings(request)
    the_plan = plan(request.plan, request.environ)
    _baseline(request, the_plan)
    return dry_runs.prepare(
        the_plan,
        request.environ,
        concurrency=request.concurrency,
        emulator=_emulator(request),
    )


def _not_sent(the_plan: Plan, workdir: Path) -> RunResult:
    """The result of a dry run (for `specrunner.run`): every run `not_run`, no file written."""
    from specrunner.app import dry_run as dry_runs  # only a dry run
    from specrunner.app.reports import write_run_report

    records = dry_runs.not_run(the_plan)
    report = write_run_report(
        the_plan,
        records,
        secrets=the_plan.secrets,
        outputs=[],
        started_at=None,
        run_dir=None,
        workdir=workdir,
    )
    return RunResult(the_plan, records, None, ExitCode.OK, report)
