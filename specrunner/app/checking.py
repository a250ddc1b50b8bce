"""`specrunner validate`: everything `plan` checks, for every environment, no secret needed."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from specrunner.app.funnel import guard
from specrunner.errors import Diagnostic, ExitCode, SuiteError, UsageError
from specrunner.suite.compile import CompileOptions, compile_plan, environment_names
from specrunner.suite.load import Document, load_suite
from specrunner.suite.settings import DEFAULT_MAX_RUNS
from specrunner.suite.validate import check_version, schema_diagnostics


@dataclass(frozen=True, slots=True)
class Validated:
    """A valid suite, and the number of runs it plans in each environment."""

    path: str
    runs: Mapping[str | None, int]


def load_valid(path: str) -> Document:
    """Load a suite and check it against the schema; raise SuiteError with every problem."""
    doc = load_suite(path)
    version_problem = check_version(doc)
    if version_problem is not None:
        raise SuiteError([version_problem])
    problems = schema_diagnostics(doc)
    if problems:
        raise SuiteError(problems)
    return doc


def check_max_runs(max_runs: int | None) -> int:
    """The cap on a suite's runs: `max_runs`, or the default when None; at least 1."""
    if max_runs is None:
        return DEFAULT_MAX_RUNS
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise UsageError(f"--max-runs {max_runs!r}: give a whole number of at least 1")
    return max_runs


def validate(
    path: str, environ: Mapping[str, str] | None = None, *, max_runs: int | None = None
) -> Validated:
    """Everything `plan` checks, for every environment, without needing any secret;
    `max_runs` caps the runs the suite may plan (None: the default, 100,000)."""
    limit = check_max_runs(max_runs)
    doc = load_valid(path)
    environ = dict(os.environ) if environ is None else environ
    names: list[str | None] = list(environment_names(doc)) or [None]
    problems: list[Diagnostic] = []
    runs: dict[str | None, int] = {}
    for name in names:
        options = CompileOptions(
            environment=name, environ=environ, lenient_env=True, max_runs=limit
        )
        try:
            runs[name] = len(compile_plan(doc, options).runs)
        except SuiteError as error:
            problems.extend(error.diagnostics)
    if problems:
        raise SuiteError(problems)
    return Validated(path, runs)


def format_validated(result: Validated) -> str:
    if list(result.runs) == [None]:
        count = result.runs[None]
        return f"{result.path}: valid ({count} run{'s' if count != 1 else ''})"
    parts = [
        f"{name}: {count} run{'s' if count != 1 else ''}" for name, count in result.runs.items()
    ]
    return f"{result.path}: valid ({', '.join(parts)})"


def validate_all(
    paths: Sequence[str],
    out: Callable[[str], None],
    err: Callable[[str], None],
    *,
    max_runs: int | None = None,
    colour: bool = False,
) -> int:
    """Validate each suite; print each result; fail (2) if any suite is invalid (its
    errors coloured when `colour`)."""
    worst = ExitCode.OK
    for path in paths:

        def check(path: str = path) -> None:
            out(format_validated(validate(path, max_runs=max_runs)))

        worst = max(worst, guard(check, err, colour=colour))
    return worst
