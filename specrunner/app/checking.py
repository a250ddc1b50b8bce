"""`specrunner validate`: everything `plan` checks, for every environment, no secret needed."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from specrunner.app.funnel import guard
from specrunner.errors import Diagnostic, ExitCode, SuiteError, UsageError
from specrunner.models import Plan
from specrunner.suite.compile import CompileOptions, compile_plan, environment_names
from specrunner.suite.load import Document, load_suite
from specrunner.suite.size import DEFAULT_MAX_RUNS
from specrunner.suite.spoiled import Spoiled, spoiled_parts
from specrunner.suite.validate import check_version, schema_problems


@dataclass(frozen=True, slots=True)
class Validated:
    """A valid suite, and the number of runs it plans in each environment."""

    path: str
    runs: Mapping[str | None, int]


@dataclass(frozen=True, slots=True)
class Checked:
    """A loaded suite, its schema problems, and the parts of it they spoil."""

    doc: Document
    problems: tuple[Diagnostic, ...]
    spoiled: Spoiled


def check_schema(path: str) -> Checked:
    """Load a suite and check it against the schema. Raise SuiteError when nothing more
    can be checked (YAML, an unsupported version, a schema problem that spoils everything);
    else return the schema problems for `compile_checked` to report with its own."""
    doc = load_suite(path)
    version_problem = check_version(doc)
    if version_problem is not None:
        raise SuiteError([version_problem])
    found = schema_problems(doc)
    problems = tuple(problem.diagnostic for problem in found)
    spoiled = spoiled_parts(doc.data, [problem.subject for problem in found])
    if spoiled.everything:
        raise SuiteError(problems)
    return Checked(doc, problems, spoiled)


def compile_checked(checked: Checked, options: CompileOptions) -> Plan:
    """The plan of a checked suite; raise SuiteError with its schema problems and every
    problem compiling what they leave unspoiled finds (none when the environment to
    compile is itself spoiled)."""
    data = checked.doc.data
    environment = options.environment
    if environment is None and not checked.spoiled.default_environment:
        environment = data.get("default_environment")
    if environment in checked.spoiled.environments:
        raise SuiteError(checked.problems)
    try:
        plan = compile_plan(checked.doc, dataclasses.replace(options, spoiled=checked.spoiled))
    except SuiteError as error:
        raise SuiteError([*checked.problems, *error.diagnostics]) from None
    if checked.problems:
        raise SuiteError(checked.problems)
    return plan


def validate(
    path: str, environ: Mapping[str, str] | None = None, *, max_runs: int | None = None
) -> Validated:
    """Everything `plan` checks, for every environment, without needing any secret;
    `max_runs` caps the runs the suite may plan in each (None: the default, 100,000).

    A problem found in some environments but not all says which (`in_environments`)."""
    limit = check_max_runs(max_runs)
    checked = check_schema(path)
    environ = dict(os.environ) if environ is None else environ
    names: list[str | None] = list(environment_names(checked.doc)) or [None]
    found: dict[Diagnostic, list[str | None]] = {}
    runs: dict[str | None, int] = {}
    for name in names:
        options = CompileOptions(
            environment=name, environ=environ, lenient_env=True, max_runs=limit, selecting=False
        )
        try:
            runs[name] = len(compile_checked(checked, options).runs)
        except SuiteError as error:
            for diagnostic in error.diagnostics:
                found.setdefault(diagnostic, []).append(name)
    if found:
        raise SuiteError(in_environments(d, envs, names) for d, envs in found.items())
    return Validated(path, runs)


def in_environments(
    diagnostic: Diagnostic, found_in: Sequence[str | None], names: Sequence[str | None]
) -> Diagnostic:
    """The diagnostic, saying which environments it is for unless it is for all of them
    (or the suite has none)."""
    if set(found_in) == set(names):
        return diagnostic
    shown = [repr(name) for name in names if name in found_in]
    label = (
        f"in environment {shown[0]}"
        if len(shown) == 1
        else f"in environments {', '.join(shown[:-1])} and {shown[-1]}"
    )
    return dataclasses.replace(diagnostic, message=f"{diagnostic.message} ({label})")


def check_max_runs(max_runs: int | None) -> int:
    """The cap on the runs a plan may hold: `max_runs`, or the default when None; at least
    1."""
    if max_runs is None:
        return DEFAULT_MAX_RUNS
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise UsageError(f"--max-runs {max_runs!r}: give a whole number of at least 1")
    return max_runs


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
