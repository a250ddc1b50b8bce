"""One set of checks: `validate` finds what `plan` finds, for every environment, and both
report schema and compile problems together.

The consistency test runs every golden bad suite (tests/golden/errors) through both use
cases. `validate` needs no secret, `plan` needs those the payloads read: `plan` gets an
environment in which every variable is set, so that the only differences left are those
by design: the environment labels of `validate`, and what a suite over `--max-runs` is
told to do (`validate` takes no selection to narrow).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import MINIMAL, REPO, dedent, write_suite
from specrunner.app.checking import Validated, in_environments, validate
from specrunner.app.planning import PlanRequest, plan
from specrunner.cli import main
from specrunner.errors import Diagnostic, SuiteError, UsageError
from specrunner.models import Plan
from specrunner.suite.load import load_suite
from test_golden import CASES, GOLDEN, read_case

_LABEL = re.compile(r" \(in environments? (?P<names>'[^)]*')\)$")


class EverySet(Mapping[str, str]):
    """An environment in which every variable is set: the case's own values, else a
    positive integer (it may be an agent or a scenario id)."""

    def __init__(self, given: Mapping[str, str]) -> None:
        self.given = dict(given)

    def __getitem__(self, name: str) -> str:
        return self.given.get(name, "7919")

    def __iter__(self) -> Iterator[str]:
        return iter(self.given)

    def __len__(self) -> int:
        return len(self.given)


_ADVICE = re.compile(r"(--max-runs allows[^:]*): .*$")


def outcome(result: Validated | Plan | SuiteError) -> frozenset[Diagnostic] | None:
    """The problems found, each without the advice of a count over --max-runs."""
    if not isinstance(result, SuiteError):
        return None
    return frozenset(
        dataclasses.replace(d, message=_ADVICE.sub(r"\1", d.message)) for d in result.diagnostics
    )


def validated(path: str, environ: Mapping[str, str]) -> Validated | SuiteError:
    try:
        return validate(path, environ)
    except SuiteError as error:
        return error


def planned(path: str, environment: str | None, environ: Mapping[str, str]) -> Plan | SuiteError:
    try:
        return plan(PlanRequest(path, environment=environment), EverySet(environ))
    except SuiteError as error:
        return error


def for_environment(found: frozenset[Diagnostic], name: str | None) -> frozenset[Diagnostic]:
    """What `validate` found that applies to environment `name`, its label removed."""
    kept = set()
    for diagnostic in found:
        label = _LABEL.search(diagnostic.message)
        if label is None:
            kept.add(diagnostic)
        elif repr(name) in re.split(r", | and ", label["names"]):
            kept.add(Diagnostic(*_position(diagnostic), diagnostic.message[: label.start()]))
    return frozenset(kept)


def _position(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return diagnostic.file, diagnostic.line, diagnostic.col


def environments_of(path: str) -> tuple[list[str], str | None]:
    """The suite's environments, and its default_environment when that is one of them."""
    try:
        data = load_suite(path).data
    except SuiteError:
        return [], None
    if not isinstance(data, dict) or not isinstance(data.get("environments"), dict):
        return [], None
    names = list(data["environments"])
    default = data.get("default_environment")
    return names, default if default in names else None


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_validate_and_plan_find_the_same_problems(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(GOLDEN)
    environ = read_case(path).env
    by_validate = validated(path.name, environ)
    found = outcome(by_validate)
    names, default = environments_of(path.name)
    for name in names or [None]:
        by_plan = planned(path.name, name, environ)
        if isinstance(by_validate, Validated):
            assert isinstance(by_plan, Plan), f"plan --env {name}: {by_plan}"
            assert len(by_plan.runs) == by_validate.runs[name]
        else:
            assert found is not None
            assert outcome(by_plan) == (for_environment(found, name) or None), f"--env {name}"
    if names:
        # Without --env: the default environment's plan, or (when the suite has none
        # to pick) its problems that are not any one environment's.
        without_env = outcome(planned(path.name, None, environ))
        if default is not None:
            assert without_env == outcome(planned(path.name, default, environ))
        else:
            assert found is not None, "validate passed a suite that plan without --env fails"
            assert without_env is not None
            assert without_env <= {d for d in found if not _LABEL.search(d.message)}
    else:
        assert not any(_LABEL.search(d.message) for d in found or ()), "labels without envs"


def test_the_golden_cases_cover_both_kinds_of_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    results = [validated(p.name, read_case(p).env) for p in CASES]
    assert sum(isinstance(r, SuiteError) for r in results) >= 40
    assert any(isinstance(r, Validated) for r in results)  # the bad-option cases
    assert any(
        any(_LABEL.search(d.message) for d in r.diagnostics)
        for r in results
        if isinstance(r, SuiteError)
    )


# ---- schema and compile problems together -----------------------------------------------

TOGETHER = """
version: 1
name: Checkout Smoke
rooms:
  lab: {source: static, url: https://acme.daily.co/lab}
  cloud: {source: pipecat_cloud, agent_nam: bot, api_key: k}
defaults:
  expect: {min_passes: 2}
scenarios:
  - id: 30
    room: labb
  - id: 31
    room: lab
    repeat: 0
  - id: 32
    room: lab
    timout: 5m
    expect: {pass_rate: 2}
  - id: 33
    rom: cloud
"""


def messages(error: SuiteError) -> list[str]:
    return [f"{d.line}: {d.message}" for d in error.diagnostics]


def test_schema_and_compile_problems_are_reported_together(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, TOGETHER)
    with pytest.raises(SuiteError) as caught:
        validate(str(suite), {})
    assert messages(caught.value) == [
        "2: name: the string 'Checkout Smoke' is not of the required form (for example "
        "'checkout-smoke' or 'nightly.v2')",
        "5: rooms.cloud: missing required key 'agent_name' (The Pipecat Cloud agent to "
        "start); is it misspelt as 'agent_nam'?",
        "5: unknown key 'agent_nam' in rooms.cloud; did you mean 'agent_name'?",
        # Compiled beside them: the defaults' min_passes is more than the one run of
        # scenarios 30 and 33 (31's repeat is spoiled, 32's expect is its own and spoiled).
        "7: min_passes 2 is more than the 1 run of each cell of scenario 'scenario-30': "
        "the cell could never pass",
        "7: min_passes 2 is more than the 1 run of each cell of scenario 'scenario-33': "
        "the cell could never pass",
        "10: unknown room 'labb'; did you mean 'lab'? (rooms: lab, cloud)",
        "13: scenarios[1].repeat: must be at least 1, got 0",
        # A misspelt key and a bad expect spoil only scenario 32's timeout and expect.
        "16: unknown key 'timout' in scenarios[2]; did you mean 'timeout'?",
        "17: scenarios[2].expect.pass_rate: must be at most 1, got 2",
        # Scenario 33's room is misspelt: no "has no room" follows from it.
        "19: unknown key 'rom' in scenarios[3]; did you mean 'room'?",
    ]


def test_plan_reports_the_same_problems(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, TOGETHER)
    with pytest.raises(SuiteError) as by_validate:
        validate(str(suite), {})
    with pytest.raises(SuiteError) as by_plan:
        plan(PlanRequest(str(suite)), {})
    assert by_plan.value.diagnostics == by_validate.value.diagnostics


def test_a_problem_in_what_everything_reads_stops_at_the_schema(tmp_path: Path) -> None:
    text = MINIMAL.replace("version: 1\n", "version: 1\nvars: [1]\n") + "    room: labb\n"
    with pytest.raises(SuiteError) as caught:
        validate(str(write_suite(tmp_path, text)), {})
    assert messages(caught.value) == ["2: vars: expected a mapping, got a list"]


def test_a_selection_is_not_judged_beside_schema_problems(tmp_path: Path) -> None:
    text = MINIMAL + "    tags: [smoke]\n  - id: 31\n    tags: billing\n"
    suite = str(write_suite(tmp_path, text))
    with pytest.raises(SuiteError) as caught:
        plan(PlanRequest(suite, tags=("billing",)), {})
    assert messages(caught.value) == [
        "12: scenarios[1].tags: expected a list of strings, got the string 'billing'"
    ]
    # Once the tags are valid, the selection is judged (here: no scenario has the tag).
    fixed = str(write_suite(tmp_path, text.replace("tags: billing", "tags: [refunds]")))
    with pytest.raises(UsageError, match="--tag 'billing': no scenario"):
        plan(PlanRequest(fixed, tags=("billing",)), {})


# ---- environments -----------------------------------------------------------------------

ENVIRONMENTS = """
version: 1
name: checkout
environments:
  staging: {room: lab}
  production:
    room: prod-bot
    defaults: {repeat: 2}
  qa:
    room: lab
    agent: 0
default_environment: staging
rooms:
  lab: {source: static, url: https://acme.daily.co/lab}
  prod_bot: {source: static, url: https://acme.daily.co/prod}
defaults:
  expect: {min_passes: 3}
  repeat: 3
scenarios:
  - id: 30
    name: order
    room: labb
"""


def test_validate_says_which_environments_a_problem_is_for(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, ENVIRONMENTS)
    with pytest.raises(SuiteError) as caught:
        validate(str(suite), {})
    assert messages(caught.value) == [
        # Unknown although every scenario names its own room: a new one would take it.
        "6: unknown room 'prod-bot'; did you mean 'prod_bot'? (rooms: lab, prod_bot) "
        "(in environment 'production')",
        # qa's agent is spoiled (a schema problem): qa is not compiled, so a problem of
        # every other environment still names them.
        "10: environments.qa.agent: must be at least 1, got 0",
        "16: min_passes 3 is more than the 2 runs of each cell of scenario 'order': the "
        "cell could never pass (in environment 'production')",
        "21: unknown room 'labb'; did you mean 'lab'? (rooms: lab, prod_bot) (in "
        "environments 'staging' and 'production')",
    ]


def test_plan_of_one_environment_reports_its_problems_unlabelled(tmp_path: Path) -> None:
    suite = str(write_suite(tmp_path, ENVIRONMENTS))
    with pytest.raises(SuiteError) as caught:
        plan(PlanRequest(suite, environment="production"), {})
    assert messages(caught.value) == [
        "6: unknown room 'prod-bot'; did you mean 'prod_bot'? (rooms: lab, prod_bot)",
        "10: environments.qa.agent: must be at least 1, got 0",
        "16: min_passes 3 is more than the 2 runs of each cell of scenario 'order': the "
        "cell could never pass",
        "21: unknown room 'labb'; did you mean 'lab'? (rooms: lab, prod_bot)",
    ]
    with pytest.raises(SuiteError) as spoiled:
        plan(PlanRequest(suite, environment="qa"), {})
    assert messages(spoiled.value) == ["10: environments.qa.agent: must be at least 1, got 0"]


def test_without_default_environment_validate_still_checks_every_environment(
    tmp_path: Path,
) -> None:
    text = ENVIRONMENTS.replace("default_environment: staging\n", "").replace("agent: 0", "")
    suite = str(write_suite(tmp_path, text))
    with pytest.raises(SuiteError) as by_validate:
        validate(suite, {})
    first = (
        "3: the suite has environments but no default_environment (The environment used "
        "when --env is not given): add it, for example `default_environment: staging` "
        "(environments: staging, production, qa)"
    )
    assert messages(by_validate.value)[0] == first
    assert len(by_validate.value.diagnostics) == 4
    with pytest.raises(SuiteError) as by_plan:
        plan(PlanRequest(suite), {})  # no environment to compile: the schema's problem
    assert messages(by_plan.value) == [first]


def test_labels_name_the_environments_in_the_suites_order() -> None:
    found = Diagnostic("s.yaml", 3, 1, "unknown room 'x'")
    names = ["staging", "production", "qa"]
    assert in_environments(found, names, names) == found
    assert in_environments(found, ["qa", "staging"], names).message == (
        "unknown room 'x' (in environments 'staging' and 'qa')"
    )
    assert in_environments(found, ["qa", "production", "staging"][:2], names).message == (
        "unknown room 'x' (in environments 'production' and 'qa')"
    )
    assert in_environments(found, [None], [None]) == found


def test_validate_counts_the_runs_plan_plans(tmp_path: Path) -> None:
    text = dedent(ENVIRONMENTS).replace("room: labb", "room: lab").replace("prod-bot", "prod_bot")
    text = text.replace("agent: 0", "agent: 7").replace("min_passes: 3", "min_passes: 1")
    suite = str(write_suite(tmp_path, text))
    result = validate(suite, {})
    assert result.runs == {"staging": 3, "production": 2, "qa": 3}
    for name, count in result.runs.items():
        assert len(plan(PlanRequest(suite, environment=name), {}).runs) == count


# ---- the docs show these messages verbatim ----------------------------------------------

DOCS = REPO / "docs"
_PROBLEM = re.compile(r"^\S+:\d+:\d+: (?P<message>.+)$")


def problem_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if _PROBLEM.match(line)]


def test_troubleshooting_shows_the_golden_messages() -> None:
    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    for case in ("environments-without-default",):  # --set: see the next test
        output = (GOLDEN / f"{case}.out").read_text(encoding="utf-8")
        for line in problem_lines(output):
            match = _PROBLEM.match(line)
            assert match is not None
            assert f": {match['message']}\n" in text, f"{case}: not in troubleshooting.md"


@pytest.mark.parametrize("page", ["troubleshooting.md", "suite-format.md"])
def test_the_docs_examples_of_set_and_labels_are_real_output(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(main, ["plan", "specs/smoke.yaml", "--set", "store=pizzeria-7"])
    assert result.exit_code == 2
    (line,) = problem_lines(result.output)
    assert f"\n{line}\n" in text
    if page == "troubleshooting.md":
        # Its example of labels is a golden case, which test_troubleshooting holds to the
        # output byte for byte.
        assert "$ specrunner validate errors-per-environment.yaml\n" in text
        return
    # specs/matrix.yaml with its production room misspelt, under the same name.
    matrix = (REPO / "specs" / "matrix.yaml").read_text(encoding="utf-8")
    assert matrix.count("room: prod_bot") == 1
    write_suite(tmp_path, matrix.replace("room: prod_bot", "room: prod-bot"), "specs/matrix.yaml")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["validate", "specs/matrix.yaml"])
    (line,) = problem_lines(result.output)
    assert line.endswith("(in environment 'production')")
    assert f"\n{line}\n" in text
