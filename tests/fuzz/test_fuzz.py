"""Fuzz `specrunner validate` and `plan` with hostile suites, templates and options.

Each test runs a fixed, derandomized budget of hypothesis examples (the same ones on every
run), each in a forked child of this process with the CLI already imported: see
tests/fuzz/harness.py for the bounds (5 s per command, 1 GiB of address space). A few
cases also run as a new process under RLIMIT_AS. What every case must do: exit 0 or 2,
print no traceback, never show the canary secret ($SECRET) in any form, stay within
the bounds.

A test runs all its examples and then reports every failing one (up to `MAX_FAILURES`,
after which it stops running examples, to keep a broken build's test run short);
`bench/fuzz.py` runs the same strategies for longer and saves every failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from .harness import run_forked, run_subprocesses, warm_up
from .hostile import EXPONENTIAL_MACRO, HOSTILE_OPTIONS, NESTED_RANGES
from .outcome import CANARY, Case, Outcome, output_problems
from .strategies import (
    BASE,
    FAMILIES,
    PLAN_JSON,
    PLAN_TEXT,
    SUBPROCESS_CASES,
    canary_case,
    canary_expression,
    dump,
    options_case,
    template_case,
    yaml_case,
)

MAX_FAILURES = 3


def fuzz_settings(examples: int) -> settings:
    """A fixed budget: derandomized (the same examples every run), no shrinking (a failure
    is reported as drawn), no example database. The time bound per example is the
    harness's (COMMAND_SECONDS per command), which, unlike hypothesis's deadline, also
    stops an example that never ends."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


class Collector:
    """Runs cases in forked children and keeps the outcomes that went wrong."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ran = 0
        self.failed: list[Outcome] = []

    def __call__(self, case: Case) -> None:
        if len(self.failed) >= MAX_FAILURES:
            return
        outcome = run_forked(case, self.folder)
        self.ran += 1
        if not outcome.ok:
            self.failed.append(outcome)

    def report(self) -> str:
        stopped = " (stopped there)" if len(self.failed) >= MAX_FAILURES else ""
        head = f"{len(self.failed)} of {self.ran} cases went wrong{stopped}:"
        return "\n".join([head, *(o.describe() for o in self.failed)])


def fuzz(
    folder: Path, strategy: st.SearchStrategy[Case], examples: int, explicit: Iterable[Case]
) -> Collector:
    """Run the explicit cases, then `examples` drawn from `strategy`."""
    collector = Collector(folder)

    def check(case: Case) -> None:
        collector(case)

    test: Callable[[], None] = given(strategy)(check)
    for case in reversed(list(explicit)):
        test = example(case)(test)
    fuzz_settings(examples)(test)()
    return collector


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warm_up()
    return tmp_path_factory.mktemp("fuzz")


def test_mutated_examples(folder: Path) -> None:
    collector = fuzz(folder, FAMILIES["mutations"], 150, [])
    assert not collector.failed, collector.report()


HOSTILE_YAML_NAMED = [
    ("deep flow list", 100_000),
    ("deep flow map", 20_000),
    ("deep block map", 1000),
    ("alias bomb", 900),
    ("merge-key bomb", 4000),
    ("recursive alias in a list", 0),
    ("recursive alias in a mapping", 0),
    ("recursive merge key", 0),
    ("huge decimal integer", 100_000),
    ("huge hex integer", 20_000),
    ("sexagesimal integer", 20_000),
    ("!!float abc", 0),
    ("!!python/object", 0),
    ("!!python/object/apply", 0),
    ("non-UTF-8 bytes", 0),
    ("UTF-16 with a BOM", 0),
    ("tab indentation", 0),
    ("a BOM in front", 0),
    ("a BOM inside", 0),
    ("duplicate top-level key", 0),
    ("duplicate key by merge and by hand", 0),
]


def test_hostile_yaml(folder: Path) -> None:
    explicit = [yaml_case(name, size) for name, size in HOSTILE_YAML_NAMED]
    collector = fuzz(folder, FAMILIES["yaml"], 80, explicit)
    assert not collector.failed, collector.report()


HOSTILE_TEMPLATES_NAMED = [
    "{{ [['x'*999999]*999]*999 }}",
    NESTED_RANGES,
    EXPONENTIAL_MACRO,
    "{{ '%999999999s'|format(1) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '{0:{1}}'.format(1, 999999999) }}",
    "{{ [[[1]]]|tojson(indent=99999999) }}",
    "{{ lipsum(999999) }}",
    "{{ 9**9**9 }}",
    "{{ ''.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ '{0.__class__.__mro__}'.format('') }}",
]


def test_hostile_templates(folder: Path) -> None:
    explicit = [template_case(t) for t in HOSTILE_TEMPLATES_NAMED]
    collector = fuzz(folder, FAMILIES["templates"], 50, explicit)
    assert not collector.failed, collector.report()


def test_hostile_options(folder: Path) -> None:
    named = [o for o in HOSTILE_OPTIONS if o[0] in ("--shard", "--set") and len(o[1]) > 4000]
    explicit = [options_case(o) for o in [*named, ("--env", "nope")]]
    collector = fuzz(folder, FAMILIES["options"], 60, explicit)
    assert not collector.failed, collector.report()


CANARY_NAMED = [
    canary_expression("env.SECRET", transform, "@")
    for transform in ("@|upper", "@|reverse", "@|urlencode", "'<' ~ @ ~ '>'", "{@: 1}", "@|tojson")
] + ["{env.SECRET|upper: 1}['zz']", "{env.SECRET: 1}['zz']", "vars[vars.s|reverse]"]


def test_the_canary_is_never_shown(folder: Path) -> None:
    explicit = [canary_case(e) for e in CANARY_NAMED]
    collector = fuzz(folder, FAMILIES["canary"], 80, explicit)
    assert not collector.failed, collector.report()


@pytest.fixture(scope="module")
def new_processes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """The outcomes of SUBPROCESS_CASES, run all at once (a few seconds in all, even when
    several run into the time bound)."""
    folder = tmp_path_factory.mktemp("processes")
    cases = [(case, folder / str(i)) for i, case in enumerate(SUBPROCESS_CASES)]
    return {o.case.label: o for o in run_subprocesses(cases)}


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=[c.label[:50] for c in SUBPROCESS_CASES])
def test_as_a_new_process(case: Case, new_processes: dict[str, Outcome]) -> None:
    outcome = new_processes[case.label]
    assert outcome.ok, outcome.describe()


# ---- the harness itself: a check that cannot fail is a defect ------------------------------


def test_the_harness_sees_every_form_of_the_canary(folder: Path) -> None:
    suite = {
        "version": 1,
        "name": "self",
        "rooms": {"lab": {"source": "static", "url": "https://acme.daily.co/lab"}},
        "scenarios": [{"id": 1, "publish_data_message": {"a": CANARY.upper(), "b": CANARY[::-1]}}],
    }
    case = Case("self", "the canary written out", dump(suite), (PLAN_JSON,))
    outcome = run_forked(case, folder)
    assert outcome.ran[0].exit_code == 0, outcome.describe()
    assert outcome.problems == (
        "the canary secret is shown upper-cased",
        "the canary secret is shown reversed",
    )
    assert output_problems("Y2FuYXJ5LVhZWjEyMw", 0) == [
        "the canary secret is shown base64",
        "the canary secret is shown urlsafe base64",
    ]


def test_the_harness_sees_a_traceback_and_an_internal_error() -> None:
    assert output_problems("Traceback (most recent call last):\n", 4) == [
        "exit code 4 (expected 0 or 2)",
        "a traceback in the output",
    ]


def test_the_harness_kills_a_command_past_its_time(folder: Path) -> None:
    case = Case("self", "a plan given no time", dump(BASE), (PLAN_TEXT, PLAN_JSON))
    outcome = run_forked(case, folder, seconds=0.0)
    assert [r.exit_code for r in outcome.ran] == [None], outcome.describe()
    assert outcome.problems == ("still running after 0 s: killed",)
