"""Use cases behind the commands, and the one funnel from errors to exit codes.

Each use case takes plain values and returns a result or raises a SpecrunnerError; the
CLI only parses options and prints. `guard` turns every outcome into an exit code.
"""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from specrunner.errors import Diagnostic, ExitCode, SpecrunnerError, SuiteError, UsageError
from specrunner.models import Plan

if TYPE_CHECKING:
    from specrunner.execute.runner import RunRequest
from specrunner.masking import MASK


@dataclass(frozen=True, slots=True)
class PlanRequest:
    suite: str
    environment: str | None = None
    sets: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    shard: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True, slots=True)
class Validated:
    """A valid suite, and the number of runs it plans in each environment."""

    path: str
    runs: Mapping[str | None, int]


def load_valid(path: str) -> Any:
    """Load a suite and check it against the schema; raise SuiteError with every problem."""
    from specrunner.suite.load import load_suite
    from specrunner.suite.validate import check_version, schema_diagnostics

    doc = load_suite(path)
    version_problem = check_version(doc)
    if version_problem is not None:
        raise SuiteError([version_problem])
    problems = schema_diagnostics(doc)
    if problems:
        raise SuiteError(problems)
    return doc


def validate(path: str, environ: Mapping[str, str] | None = None) -> Validated:
    """Everything `plan` checks, for every environment, without needing any secret."""
    from specrunner.suite.compile import CompileOptions, compile_plan, environment_names

    doc = load_valid(path)
    environ = dict(os.environ) if environ is None else environ
    names: list[str | None] = list(environment_names(doc)) or [None]
    problems: list[Diagnostic] = []
    runs: dict[str | None, int] = {}
    for name in names:
        options = CompileOptions(environment=name, environ=environ, lenient_env=True)
        try:
            runs[name] = len(compile_plan(doc, options).runs)
        except SuiteError as error:
            problems.extend(error.diagnostics)
    if problems:
        raise SuiteError(problems)
    return Validated(path, runs)


def plan(request: PlanRequest) -> Plan:
    from specrunner.suite.compile import CompileOptions, compile_plan
    from specrunner.suite.selection import parse_set, parse_shard

    overrides = tuple(parse_set(text) for text in request.sets)
    shard = parse_shard(request.shard) if request.shard is not None else None
    doc = load_valid(request.suite)
    options = CompileOptions(
        environment=request.environment,
        overrides=overrides,
        tags=request.tags,
        scenarios=request.scenarios,
        shard=shard,
        environ=request.environ,
    )
    return compile_plan(doc, options)


def run_suite(
    request: RunRequest, out: Callable[[str], None], progress: TextIO, *, interactive: bool = False
) -> int:
    """`specrunner run`: execute, show progress on `progress`, and a summary on `out`."""
    from specrunner.execute.progress import ProgressView
    from specrunner.execute.runner import execute

    view = ProgressView(progress, interactive=interactive)
    try:
        result = execute(request, view.update)
    finally:
        view.close()
    written = [*request.outputs, *_step_summary(result.report, request.environ)]
    for line in view.summary(result, written):
        out(line)
    return result.exit_code


def _step_summary(report: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Append the Markdown summary to $GITHUB_STEP_SUMMARY when it is set."""
    from specrunner.report.markdown import append_step_summary

    path = append_step_summary(report, environ) if report else None
    return [str(path)] if path is not None else []


def render_saved(path: str, outputs: Sequence[str]) -> int:
    """`specrunner report`: re-render a saved JSON report; the exit code is its verdict's."""
    from specrunner.report.saved import read_report
    from specrunner.report.write import check_outputs, write_reports

    check_outputs(outputs)
    report = read_report(path)
    write_reports(report, [Path(o) for o in outputs])
    _step_summary(report, os.environ)
    return ExitCode.OK if report["verdict"]["passed"] else ExitCode.EXPECTATIONS_NOT_MET


def merge(paths: Sequence[str], outputs: Sequence[str]) -> dict[str, Any]:
    """`specrunner merge`: join the reports of a plan's shards and judge the cells again."""
    from specrunner.report.saved import merge_reports, read_report
    from specrunner.report.write import check_outputs, write_reports

    check_outputs(outputs)
    merged = merge_reports([read_report(p) for p in paths], list(paths))
    write_reports(merged, [Path(o) for o in outputs])
    _step_summary(merged, os.environ)
    return merged


def schema_text(kind: str) -> str:
    from specrunner.schemas import schema_text as text

    return text(kind)


def init(directory: str, *, force: bool = False) -> list[Path]:
    """Write a starter suite and the schema it names into `directory`."""
    root = Path(directory)
    targets = {
        root / "specs" / "smoke.yaml": resources.files("specrunner")
        .joinpath("starter", "smoke.yaml")
        .read_text(encoding="utf-8"),
        root / "schemas" / "suite.v1.json": schema_text("suite"),
    }
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        shown = ", ".join(str(p) for p in existing)
        raise UsageError(
            f"init: {shown} already exist{'s' if len(existing) == 1 else ''}; "
            "pass --force to overwrite"
        )
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(targets)


def run_emulator(
    host: str,
    port: int,
    api_key: str | None,
    config_path: str | None,
    out: Callable[[str], None],
    err: Callable[[str], None],
    wait: Callable[[], None] | None = None,
) -> int:
    """Serve the emulator in the foreground until interrupted (or until `wait` returns)."""
    import dataclasses
    import threading

    from specrunner.emulator import Emulator, EmulatorConfig, load_config

    config = load_config(config_path) if config_path else EmulatorConfig()
    if api_key:
        config = dataclasses.replace(config, api_key=api_key)
    try:
        emulator = Emulator(config, host=host, port=port)
    except OSError as exc:
        raise UsageError(f"emulator: cannot listen on {host}:{port}: {exc.strerror}") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        err(f"warning: listening on {host}, not only on this machine's loopback")
    with emulator:
        out(f"specrunner emulator listening on {emulator.base_url}")
        out("Point clients at it with:")
        for name, value in emulator.environment().items():
            out(f"  export {name}={value}")
        out(f"Ledger: {emulator.base_url}/_emulator/ledger   (Ctrl-C to stop)")
        try:
            (wait or threading.Event().wait)()
        except KeyboardInterrupt:
            out("stopped")
    return ExitCode.OK


# ---- the error funnel --------------------------------------------------------------------

_NOT_SECRET_ENV = {
    "PATH",
    "HOME",
    "PWD",
    "OLDPWD",
    "SHELL",
    "TERM",
    "LANG",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "HOSTNAME",
    "SHLVL",
    "_",
}


def guard(action: Callable[[], int | None], err: Callable[[str], None]) -> int:
    """Run a command; map every way it can end to an exit code, printing one message."""
    try:
        code = action()
    except SuiteError as error:
        for diagnostic in error.diagnostics:
            err(str(diagnostic))
        files = sorted({d.file for d in error.diagnostics})
        count = len(error.diagnostics)
        err(f"{count} error{'s' if count != 1 else ''} in {', '.join(files)}")
        return error.exit_code
    except SpecrunnerError as error:
        err(f"specrunner: error: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        err("specrunner: interrupted")
        return ExitCode.INTERRUPTED
    except Exception as error:  # the last resort: never a traceback on the terminal
        where = write_crash_report(error)
        err(
            f"specrunner: internal error: {type(error).__name__}; details written to {where}. "
            "Please report it with that file."
        )
        return ExitCode.INTERNAL
    return ExitCode.OK if code is None else code


def write_crash_report(error: BaseException, environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    text = "".join(traceback.format_exception(error))
    text = scrub_environment_values(text, environ)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"crash-{stamp}-{os.getpid()}.log"
    argv = scrub_environment_values(" ".join(sys.argv), environ)
    header = f"specrunner internal error\nargv: {argv}\n\n"
    for folder in (Path(".specrunner"), Path(tempfile.gettempdir()) / "specrunner"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(header + text, encoding="utf-8")
            return path
        except OSError:
            continue
    return Path(os.devnull)  # pragma: no cover - nowhere writable at all


def scrub_environment_values(text: str, environ: Mapping[str, str]) -> str:
    """Mask every environment value that might be a secret (any value of 8+ characters)."""
    values = sorted(
        (v for k, v in environ.items() if k not in _NOT_SECRET_ENV and len(v) >= 8),
        key=len,
        reverse=True,
    )
    for value in values:
        text = text.replace(value, MASK)
    return text


def format_validated(result: Validated) -> str:
    if list(result.runs) == [None]:
        count = result.runs[None]
        return f"{result.path}: valid ({count} run{'s' if count != 1 else ''})"
    parts = [
        f"{name}: {count} run{'s' if count != 1 else ''}" for name, count in result.runs.items()
    ]
    return f"{result.path}: valid ({', '.join(parts)})"


def validate_all(
    paths: Sequence[str], out: Callable[[str], None], err: Callable[[str], None]
) -> int:
    """Validate each suite; print each result; fail (2) if any suite is invalid."""
    worst = ExitCode.OK
    for path in paths:

        def check(path: str = path) -> None:
            out(format_validated(validate(path)))

        worst = max(worst, guard(check, err))
    return worst
