"""The command line: parse options, call one `app` function, print, return the exit code.

Kept light on purpose: `specrunner --version` imports nothing but click; every command
imports what it needs when it runs.
"""

from __future__ import annotations

import atexit
import functools
import gc
import sys
from collections.abc import Callable
from typing import Any

import click

from specrunner.version import __version__

# httpx imports its own command-line tool when it is imported (pygments and rich's syntax
# and tables, about 40 ms of every `specrunner run`), which specrunner never calls: with
# None in its place, httpx's import of it fails and httpx carries on without it (its
# `httpx.main` then says the tool is not installed). Only the command line does this: the
# Python API (`specrunner.run`) leaves httpx as it is.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

_SELECTION_HELP = {
    "env": "Environment of the suite to use (default: its default_environment).",
    "set": "Override a variable: KEY=VALUE (VALUE is JSON when it parses as JSON). Repeatable.",
    "tag": "Only scenarios with this tag. Repeatable (any of).",
    "scenario": "Only this scenario, by name or id. Repeatable (any of).",
    "shard": "Only the runs of shard I of N, split by run key (for example 2/4).",
    "max_runs": "The most runs the plan may hold, after --tag, --scenario and --shard; a "
    "plan of more is refused and nothing is sent (default 100000).",
}


def _max_runs_option(
    help_text: str = _SELECTION_HELP["max_runs"],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--max-runs",
        "max_runs",
        metavar="N",
        type=click.IntRange(min=1),
        default=None,
        help=help_text,
    )


def _wide_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--wide",
        is_flag=True,
        help="Never wrap: each payload and cell on one line, however long.",
    )(command)


def _text_width(wide: bool) -> int | None:
    """The columns to lay text out in on standard output; None with --wide."""
    from specrunner.wrapping import output_width

    return None if wide else output_width(sys.stdout)


def _output_option(what: str, *, required: bool = False) -> Callable[..., Any]:
    """`-o PATH`, repeatable: the formats are the report writers' (a test holds them to
    `specrunner.report.write.renderers`)."""
    return click.option(
        "-o",
        "--output",
        "outputs",
        metavar="PATH",
        multiple=True,
        required=required,
        help=f"Write {what} here, in the format its extension names: .json, .html, .xml "
        "(JUnit) or .md. Repeatable.",
    )


def _baseline_options(what: str) -> Callable[..., Any]:
    """`--baseline BASE.json` and `--alpha A` (only with it), for `run` and `merge`."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option(
            "--alpha",
            type=click.FloatRange(0, 0.5, min_open=True),
            default=None,
            metavar="A",
            help="With --baseline: the false discovery rate of the comparison (default 0.05).",
        )(command)
        return click.option(
            "--baseline",
            metavar="BASE.json",
            help=f"Compare {what} with this report of the same suite, cell by cell: a "
            "significant regression makes the exit code 1 (see `specrunner compare`).",
        )(command)

    return decorate


_HISTORY_HELP = (
    "The history's file (default: $SPECRUNNER_HISTORY, else .specrunner/history.sqlite)."
)


def _history_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--history", "history", metavar="PATH", help=_HISTORY_HELP)(command)


def _history_options(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--history PATH` and `--no-history`, for a command that records (`what`) in it."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option("--no-history", is_flag=True, help=f"Do not {what}.")(command)
        return _history_option(command)

    return decorate


def _check_alpha(baseline: str | None, alpha: float | None) -> float:
    if alpha is not None and baseline is None:
        raise click.UsageError("--alpha is the level of the comparison with --baseline: give both")
    return 0.05 if alpha is None else alpha


def _history_settings(path: str | None, off: bool = False) -> Any:
    import os
    from pathlib import Path

    from specrunner.app.history import HistorySettings  # loaded by a command, not by --help

    return HistorySettings(path, off, dict(os.environ), Path.cwd())


_format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)


def _out(text: str) -> None:
    click.echo(text)


def _err(text: str) -> None:
    click.echo(text, err=True)


def _err_colour() -> bool:
    """Whether errors may be coloured: stderr is a terminal and NO_COLOR is not set."""
    return _colour(sys.stderr)


def _colour(stream: Any) -> bool:
    """Whether `stream` may be coloured: a terminal, and NO_COLOR not set."""
    import os

    from specrunner.diagnostic_view import wants_colour  # loaded by a command, not by --help

    return wants_colour(stream, os.environ)


def _finish(action: Callable[[], int | None]) -> None:
    from specrunner.app.funnel import guard  # loaded by a command, not by --version/--help

    sys.exit(guard(action, _err, colour=_err_colour()))


def _check_shard(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    # The option's check runs only when the option is given.
    from specrunner.errors import UsageError
    from specrunner.suite.selection import parse_shard

    try:
        parse_shard(value)
    except UsageError as error:
        raise click.BadParameter(str(error).split(": ", 1)[-1]) from None
    return value


def _check_sets(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    # The option's check runs only when the option is given.
    from specrunner.errors import UsageError
    from specrunner.suite.selection import parse_set

    for text in value:
        try:
            parse_set(text)
        except UsageError as error:
            raise click.BadParameter(str(error).split(": ", 1)[-1]) from None
    return value


def selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that pick what to plan (`plan`, `run`): the command receives them as one
    `selection` mapping, named as the fields of `app.planning.PlanRequest`."""
    decorators = [
        click.option("--env", "environment", metavar="NAME", help=_SELECTION_HELP["env"]),
        click.option(
            "--set",
            "sets",
            metavar="KEY=VALUE",
            multiple=True,
            callback=_check_sets,
            help=_SELECTION_HELP["set"],
        ),
        click.option("--tag", "tags", metavar="TAG", multiple=True, help=_SELECTION_HELP["tag"]),
        click.option(
            "--scenario",
            "scenarios",
            metavar="NAME_OR_ID",
            multiple=True,
            help=_SELECTION_HELP["scenario"],
        ),
        click.option(
            "--shard", metavar="I/N", callback=_check_shard, help=_SELECTION_HELP["shard"]
        ),
        _max_runs_option(),
    ]
    names: list[str] = []

    @functools.wraps(command)
    def with_selection(**options: Any) -> Any:
        selection = {name: options.pop(name) for name in names}
        return command(selection=selection, **options)

    wrapped: Any = with_selection
    known = {id(param) for param in getattr(wrapped, "__click_params__", ())}
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    names.extend(
        param.name for param in wrapped.__click_params__ if id(param) not in known and param.name
    )
    return wrapped  # type: ignore[no-any-return]


@click.group(
    name="specrunner",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(
    __version__, "--version", "-V", prog_name="specrunner", message="%(prog)s %(version)s"
)
def main() -> None:
    """Declarative test runner for Pipecat voice agents, evaluated by Cekura.

    Suites are YAML files: which Cekura scenarios to run, how often, with which
    publish_data_message, and where each run's room comes from.
    """
    _no_last_collection()


@functools.cache
def _no_last_collection() -> None:
    """At exit (after every other exit handler: the journal is closed by then), freeze
    what is left, so that the interpreter's last garbage collection does not walk every
    record of a large suite only for the process to end: a tenth of a second of a
    2,000-run suite's exit."""
    atexit.register(gc.freeze)


@main.command()
@click.argument("suites", nargs=-1, required=True, metavar="SUITE...")
@_max_runs_option("The most runs the suite may plan in each environment (default 100000).")
def validate(suites: tuple[str, ...], max_runs: int | None) -> None:
    """Check suites: YAML, schema, templates, rooms and selection of every environment.

    Needs no secrets: unset environment variables are not errors here. Prints one line
    per valid suite, and every problem as FILE:LINE:COL: message. Exits 2 when any suite
    is invalid.
    """
    from specrunner.app.checking import validate_all  # each command loads its own use case

    sys.exit(validate_all(suites, _out, _err, max_runs=max_runs, colour=_err_colour()))


@main.command()
@click.argument("suite", metavar="SUITE")
@selection_options
@_format_option
@_wide_option
def plan(suite: str, selection: dict[str, Any], output_format: str, wide: bool) -> None:
    """Compile a suite into its plan of runs and print it, sending nothing.

    The text form wraps payloads and cells to the terminal's width (COLUMNS, or 100
    columns when the output is not a terminal). The JSON form is one object with a
    top-level `runs` list (key, scenario_id, scenario, cell, repeat, room, rendered
    publish_data_message) and a `summary`. Secrets are shown as ***.
    """
    from specrunner.app import planning  # each command loads its own use case

    def action() -> None:
        from specrunner.plan_view import plan_json_text, plan_text  # only to print a plan

        result = planning.plan(planning.PlanRequest(suite, **selection))
        if output_format == "json":
            click.echo(plan_json_text(result), nl=False)
        else:
            click.echo(plan_text(result, _text_width(wide)), nl=False)

    _finish(action)


@main.command()
@click.argument("suite", metavar="[SUITE]", required=False)
@selection_options
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Runs in flight at most.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Runs per submission at most.",
)
@click.option(
    "--submissions",
    type=click.IntRange(min=1),
    default=None,
    show_default="one per 50 of --concurrency, 4 to 32",
    help="Submissions (POSTs to Cekura) in flight at once, at most.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="The time between polls: longer while nothing changes, down to a sixteenth of "
    "it near the expected ends of runs.",
)
@click.option(
    "--emulator",
    "use_emulator",
    is_flag=True,
    help="Start the local emulator in-process and send everything to it.",
)
@click.option(
    "--emulator-config",
    metavar="FILE",
    help="The in-process emulator's configuration (outcomes, timing, faults); implies --emulator.",
)
@click.option(
    "--resume",
    metavar="RUN_DIR",
    help="Continue the run recorded in RUN_DIR (after a crash or Ctrl-C).",
)
@click.option(
    "--on-interrupt",
    type=click.Choice(["leave", "end"]),
    default="leave",
    show_default=True,
    help="On Ctrl-C or SIGTERM: leave live runs running (to --resume), or end their calls.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what each run would send and which secrets are not set; lease, send and "
    "write nothing. Exit code 0 when everything would be sent.",
)
@click.option(
    "--wide",
    is_flag=True,
    help="With --dry-run: never wrap, each payload on one line however long.",
)
@click.option(
    "-y",
    "--yes",
    "assume_yes",
    is_flag=True,
    help="Never ask before sending. On a terminal, a run that may make more than 100 calls "
    "or 50 hours of call time asks first.",
)
@_output_option("a report")
@_baseline_options("the run's report")
@_history_options("record the run in the history (nor draw the charts that need it)")
def run(
    suite: str | None,
    selection: dict[str, Any],
    concurrency: int,
    batch_size: int,
    submissions: int | None,
    poll_interval: float,
    use_emulator: bool,
    emulator_config: str | None,
    resume: str | None,
    on_interrupt: str,
    dry_run: bool,
    wide: bool,
    assume_yes: bool,
    outputs: tuple[str, ...],
    baseline: str | None,
    alpha: float | None,
    history: str | None,
    no_history: bool,
) -> None:
    """Run a suite: lease a room per run, submit the runs to Cekura, poll them to the end.

    Every run is recorded in .specrunner/runs/RUN_ID/ (journal and results.json), so that
    `--resume RUN_DIR` can continue it. The first Ctrl-C (or SIGTERM) stops sending, lets
    a submission in flight finish and leaves live runs running (or ends them, with
    --on-interrupt end); a second stops at once. On a terminal, a run that may make more
    than 100 calls or 50 hours of call time asks before it sends anything (not with --yes
    or --emulator). Exit code 0 when every cell meets its `expect` rule (and, with
    --baseline, none regressed), 1 when one does not, 2 for an invalid suite, option or
    baseline, 3 when Cekura or a room source stopped the run, 130 when interrupted or not
    confirmed. A run that got to its end is recorded in the history (see `specrunner
    history`).
    """
    from specrunner.app import running  # each command loads its own use case
    from specrunner.asking import terminal_question

    if (suite is None) == (resume is None):
        raise click.UsageError("give either SUITE or --resume RUN_DIR")
    if resume is not None and any(selection.values()):
        raise click.UsageError(
            "--resume takes the selection from the journal: drop --env, "
            "--set, --tag, --scenario, --shard and --max-runs"
        )
    if wide and not dry_run:
        raise click.UsageError("--wide lays out the output of --dry-run: give it with --dry-run")
    level = _check_alpha(baseline, alpha)

    def action() -> int:
        request = running.RunRequest.of(
            suite,
            **selection,
            concurrency=concurrency,
            batch_size=batch_size,
            submissions=submissions,
            poll_interval=poll_interval,
            emulator=use_emulator,
            emulator_config=emulator_config,
            resume=resume,
            on_interrupt=on_interrupt,
            dry_run=dry_run,
            outputs=outputs,
            baseline=baseline,
            alpha=level,
            history=history,
            no_history=no_history,
        )
        return running.run_suite(
            request,
            _out,
            sys.stderr,
            interactive=sys.stderr.isatty(),
            width=_text_width(wide),
            ask=None if assume_yes else terminal_question(sys.stdin, sys.stderr),
        )

    _finish(action)


@main.command()
@click.argument("run_dir", metavar="RUN_DIR")
def cancel(run_dir: str) -> None:
    """End what a run left live in Cekura, and give back the rooms it held.

    Ends the call of every run of RUN_DIR that is still live, waits (up to a minute) for
    each to reach a final status, releases every room the run still held, and journals
    it all, so that `specrunner run --resume RUN_DIR` then only sends what was never sent.
    Running it twice is harmless.
    """
    import os

    from specrunner.app import cancelling  # each command loads its own use case

    _finish(lambda: cancelling.cancel(run_dir, _out, os.environ))


@main.command()
@click.argument("results", metavar="RESULTS.json")
@_output_option("the report", required=True)
@_history_options("draw the charts that need the history")
def report(results: str, outputs: tuple[str, ...], history: str | None, no_history: bool) -> None:
    """Render reports again from a saved JSON report.

    The HTML report's charts show the history recorded up to the report (it records
    nothing). Prints each file written. Exit code 0 when the report's verdict passed, 1
    when it did not (or, for a report made with --baseline, a cell regressed), 2 for a
    file that is not a specrunner report.
    """
    from specrunner.app import history as past
    from specrunner.app import reports  # each command loads its own use case

    def action() -> int:
        settings = _history_settings(history, no_history)
        rendered = reports.render_saved(results, outputs, trend=past.reading(settings))
        for line in rendered.lines():
            _out(line)
        return rendered.exit_code

    _finish(action)


@main.command()
@click.argument("reports", metavar="A.json B.json...", nargs=-1, required=True)
@_output_option("the merged report", required=True)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Merge even when shards are missing: their runs count as not run, and their "
    "cells as not met.",
)
@_baseline_options("the merged report")
@_history_options("record the merged report in the history")
def merge(
    reports: tuple[str, ...],
    outputs: tuple[str, ...],
    allow_partial: bool,
    baseline: str | None,
    alpha: float | None,
    history: str | None,
    no_history: bool,
) -> None:
    """Join the JSON reports of the shards of one plan and judge the cells again.

    The reports must come from one plan (suite, environment and selection but the shard),
    cut into one number of shards (one N in --shard I/N), each shard given once. A missing
    shard is an error that names it; with --allow-partial, its runs count as not run.
    Prints the merged verdict and each file written. Exit code 0 when the merged verdict
    passed (and, with --baseline, no cell regressed), 1 when it did not, 2 when the reports
    are not the shards of one plan, a shard is missing or the baseline does not fit. The
    merged report is recorded in the history.
    """
    from specrunner.app import history as past
    from specrunner.app import reports as use_case  # the command's own use case
    from specrunner.history.entries import Source

    level = _check_alpha(baseline, alpha)

    def action() -> int:
        settings = _history_settings(history, no_history)
        merged = use_case.merge(
            reports,
            outputs,
            allow_partial=allow_partial,
            baseline=baseline,
            alpha=level,
            trend=past.recording(settings, Source.MERGE, _err),
        )
        for line in [*use_case.merge_lines(merged.report), *merged.lines()]:
            _out(line)
        return merged.exit_code

    _finish(action)


class _HistoryGroup(click.Group):
    """`specrunner history SUITE` is `specrunner history show SUITE`: any first word that
    names no subcommand (and is not --help) is taken as show's."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["show", *args]
        return super().parse_args(ctx, args)


@main.group(cls=_HistoryGroup)
def history() -> None:
    """Look back over the recorded runs of a suite, or record reports made elsewhere.

    Every run that gets to its end, and every merge, records its report in a local SQLite
    file: .specrunner/history.sqlite, or where --history or $SPECRUNNER_HISTORY say (run
    and merge take --no-history). `specrunner history SUITE` is `specrunner history show
    SUITE`; a suite named `import` or `show` is shown with `history show NAME`.
    """


@history.command("show")
@click.argument("suite", metavar="SUITE")
@click.option(
    "--env",
    "environment",
    metavar="NAME",
    help="The environment whose runs to show (default: the suite file's "
    "default_environment, else the one run last).",
)
@click.option(
    "--last",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    metavar="N",
    help="How many of the latest runs to look at.",
)
@_format_option
@_history_option
def history_show(
    suite: str, environment: str | None, last: int, output_format: str, history: str | None
) -> None:
    """Each cell's pass rate over a suite's last runs, and the cells that flip.

    SUITE is the suite's file (its name is looked up) or its name. Only reports of whole
    plans count: a run without --shard, or a merge; shards and stopped runs are kept but
    left out. Per cell: its pass rate over the runs, in how many it met its rule, and its
    verdict in each run, most recent first. A cell met and not met in turn (its verdict
    changed at least twice) is flaky across runs; one that changed once is listed as a
    regression or a fix. Exit code 0, or 2 when nothing of the suite is recorded.
    """
    from specrunner.app import history as past  # each command loads its own use case

    def action() -> None:
        text = past.show(
            suite,
            _history_settings(history),
            environment=environment,
            last=last,
            output_format=output_format,
        )
        click.echo(text, nl=False)

    _finish(action)


@history.command("import")
@click.argument("reports", metavar="REPORT.json...", nargs=-1, required=True)
@_history_option
def history_import(reports: tuple[str, ...], history: str | None) -> None:
    """Record JSON reports made elsewhere (CI artifacts) in the history.

    A report recorded before (by the run that wrote it, or an earlier import) is skipped.
    Prints a line per file. Exit code 0, or 2 when a file is not a specrunner report (the
    others are still recorded).
    """
    from specrunner.app import history as past  # each command loads its own use case

    def action() -> int:
        imported = past.import_reports(reports, _history_settings(history))
        for line in imported.lines:
            _out(line)
        return imported.exit_code

    _finish(action)


@main.command()
@click.argument("base", metavar="BASE.json")
@click.argument("new", metavar="NEW.json")
@click.option(
    "-o",
    "--output",
    "outputs",
    metavar="PATH",
    multiple=True,
    help="Write the comparison here, in the format its extension names: .json, .html or "
    ".md (for a pull-request comment). Repeatable.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 0.5, min_open=True),
    default=0.05,
    show_default=True,
    metavar="A",
    help="The false discovery rate: a change is significant when its adjusted p-value "
    "is at most this.",
)
def compare(base: str, new: str, outputs: tuple[str, ...], alpha: float) -> None:
    """Compare two reports of one suite, cell by cell: what regressed, what improved.

    Cells are matched by scenario and matrix values. A change counts only when it is
    significant: Fisher's exact test of the cell's passes (out of its passed, failed and
    error runs), one-sided, with the false discovery rate over the cells held at --alpha
    (Benjamini-Hochberg). Prints the cells that changed and each file written. Exit code
    0 when no cell regressed significantly, 1 when one did, 2 when the reports cannot be
    compared (not reports, a shard's alone, of two suites, no cell in common).
    """
    from specrunner.app import comparing  # each command loads its own use case

    def action() -> int:
        compared = comparing.compare(base, new, outputs, alpha=alpha)
        for line in compared.lines(colour=_colour(sys.stdout)):
            _out(line)
        return compared.exit_code

    _finish(action)


@main.command()
@click.argument(
    "kind",
    type=click.Choice(["suite", "report", "compare"]),
    default="suite",
    required=False,
    metavar="[suite|report|compare]",
)
def schema(kind: str) -> None:
    """Print the JSON Schema of a suite file, of the JSON report or of a comparison."""
    from specrunner.app import starter  # each command loads its own use case

    _finish(lambda: click.echo(starter.schema_text(kind), nl=False))


@main.command()
@click.argument("directory", default=".", required=False, metavar="[DIR]")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: str, force: bool) -> None:
    """Write a starter suite (specs/smoke.yaml) and its schema (schemas/) into DIR.

    Also adds .specrunner/ (run directories and the history) to DIR/.gitignore.
    """
    from specrunner.app import starter  # each command loads its own use case

    def action() -> None:
        for path in starter.init(directory, force=force):
            _out(f"wrote {path}")
        suite = "specs/smoke.yaml" if directory in (".", "") else f"{directory}/specs/smoke.yaml"
        _out("")
        _out("Next:")
        _out(f"  specrunner validate {suite}")
        _out(f"  specrunner plan {suite}")
        _out(f"  specrunner run {suite} --emulator -o report.html")

    _finish(action)


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (loopback unless you say otherwise).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option("--api-key", metavar="KEY", help="The Cekura API key to accept.")
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Emulator configuration (YAML; see docs/emulator.md).",
)
def emulator(host: str, port: int, api_key: str | None, config_path: str | None) -> None:
    """Run a local emulator of Cekura, Pipecat Cloud and Daily until Ctrl-C.

    Prints the base URL and the environment variables that point specrunner (and
    Cekura's and Pipecat Cloud's own clients) at it.
    """
    from specrunner.app import serve  # each command loads its own use case

    def action() -> int:
        return serve.run_emulator(host, port, api_key, config_path, _out, _err)

    _finish(action)


if __name__ == "__main__":  # pragma: no cover
    main()
