"""The cap on a plan's size (`--max-runs`, default 100,000 runs), checked before any cell or
run is made, so that a huge matrix x repeat is refused at once instead of eating memory."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import compile_text, suite_errors, write_suite
from specrunner.app.checking import validate
from specrunner.app.planning import PlanRequest, plan
from specrunner.cli import main
from specrunner.errors import UsageError
from specrunner.suite.matrix import TooManyCells, cell_bound, expand_cells
from specrunner.suite.size import DEFAULT_MAX_RUNS

HEAD = """\
version: 1
name: sized
rooms:
  lab:
    source: static
    url: https://acme.daily.co/lab
scenarios:
"""

# 9 variables of 5 values: 1,953,125 cells; x 1000 repeats: 1,953,125,000 runs.
HUGE = (
    HEAD
    + "  - id: 30\n    name: huge\n    repeat: 1000\n    matrix:\n"
    + "".join(f"      {name}: [1, 2, 3, 4, 5]\n" for name in "abcdefghi")
)
HUGE_MESSAGE = (
    "suite.yaml:12:7: scenario 'huge' makes up to 1,953,125 cells, more than the 100,000 "
    "a scenario may make: trim its matrix, or raise --max-runs"
)
NARROW = "narrow the selection (--tag, --scenario, --shard) or raise --max-runs"


def scenario(name: str, repeat: int, values: int, extra: str = "", tags: str = "") -> str:
    listed = ", ".join(str(n) for n in range(values))
    tagged = f"    tags: [{tags}]\n" if tags else ""
    return (
        f"  - id: 30\n    name: {name}\n{tagged}    repeat: {repeat}\n"
        f"    matrix:\n      n: [{listed}]\n{extra}"
    )


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), prog_name="specrunner", catch_exceptions=False)


def test_a_nine_variable_matrix_is_refused_at_once_at_its_matrix() -> None:
    started = time.perf_counter()
    errors = suite_errors(HUGE)
    elapsed = time.perf_counter() - started
    assert errors == [HUGE_MESSAGE]
    assert elapsed < 5.0


def test_no_count_of_shards_lets_it_through() -> None:
    started = time.perf_counter()
    assert suite_errors(HUGE, shard=(1, 999_999_999)) == [HUGE_MESSAGE]
    assert time.perf_counter() - started < 5.0


def test_validate_refuses_it_at_once_too(tmp_path: Path) -> None:
    path = write_suite(tmp_path, HUGE)
    started = time.perf_counter()
    result = cli("validate", str(path))
    elapsed = time.perf_counter() - started
    assert result.exit_code == 2
    assert "scenario 'huge' makes up to 1,953,125 cells" in result.output
    assert elapsed < 5.0


def test_a_huge_repeat_is_refused_at_its_repeat_before_any_run_is_made() -> None:
    # 16,200 cells x 1000 repeats: the cells are made, the 16,200,000 runs are not.
    text = HEAD + scenario("wide", 1000, 90, "      m: [" + ", ".join(map(str, range(180))) + "]\n")
    started = time.perf_counter()
    assert suite_errors(text) == [
        "suite.yaml:10:5: this scenario plans 16,200,000 runs (cells x repeat), more than "
        f"the 100,000 --max-runs allows (its default): {NARROW}"
    ]
    assert time.perf_counter() - started < 5.0


def test_the_error_points_at_the_matrix_without_a_repeat() -> None:
    text = HEAD + scenario("wide", 1, 10).replace("    repeat: 1\n", "")
    assert suite_errors(text, max_runs=9) == [
        "suite.yaml:10:5: this scenario plans 10 runs (cells x repeat), more than the 9 "
        f"--max-runs allows: {NARROW}"
    ]


def test_includes_and_excludes_are_counted_exactly() -> None:
    extra = "    include:\n      - {n: 99}\n    exclude:\n      - {n: 0}\n"
    text = HEAD + scenario("bounded", 2, 5, extra)
    assert len(compile_text(text, max_runs=10).runs) == 10  # 4 + 1 cells, x 2
    assert suite_errors(text, max_runs=9) == [
        "suite.yaml:10:5: this scenario plans 10 runs (cells x repeat), more than the 9 "
        f"--max-runs allows: {NARROW}"
    ]


def test_the_total_counts_every_selected_scenario() -> None:
    text = HEAD + scenario("first", 10, 6) + scenario("second", 10, 5).replace("30", "31")
    errors = suite_errors(text, max_runs=100)
    assert errors == [
        "suite.yaml:15:5: with this scenario, the suite plans 110 runs (cells x repeat, "
        f"all scenarios), more than the 100 --max-runs allows: {NARROW}"
    ]
    assert len(compile_text(text, max_runs=110).runs) == 110
    third = scenario("third", 10, 4).replace("30", "32")
    assert suite_errors(text + third, max_runs=100) == [
        "suite.yaml:15:5: with this scenario, the suite plans 150 runs (cells x repeat, "
        f"all scenarios), more than the 100 --max-runs allows: {NARROW}"
    ]


def test_the_cap_counts_the_runs_the_selection_keeps() -> None:
    text = (
        HEAD
        + scenario("big", 1000, 200, tags="nightly")
        + scenario("smoke", 2, 2, tags="smoke").replace("30", "31")
        + scenario("more", 3, 2, tags="smoke").replace("30", "32")
    )
    # 200,000 runs in the suite, over the default: only the selected ones count.
    planned = compile_text(text, tags=("smoke",), max_runs=10)
    assert (len(planned.runs), planned.total_runs) == (10, 200_010)
    assert suite_errors(text, tags=("smoke",), max_runs=9) == [
        "suite.yaml:23:5: with this scenario, the selected scenarios plan 10 runs "
        f"(cells x repeat), more than the 9 --max-runs allows: {NARROW}"
    ]
    assert suite_errors(text, scenarios=("big",))[0].endswith(
        "this scenario plans 200,000 runs (cells x repeat), more than the 100,000 "
        f"--max-runs allows (its default): {NARROW}"
    )


def test_a_broken_suite_with_a_selection_shows_its_problems_not_a_count() -> None:
    # With a problem found, the selection is not applied: the count of every scenario
    # would not be what the selection plans, so it is not reported.
    broken = "    expect: {min_passes: 3}\n"
    text = HEAD + scenario("big", 1000, 200, tags="nightly")
    text += scenario("smoke", 2, 2, broken, tags="smoke").replace("30", "31")
    errors = suite_errors(text, tags=("smoke",), max_runs=10)
    assert len(errors) == 1 and "min_passes 3 is more than the 2 runs" in errors[0]
    unselected = suite_errors(text, max_runs=10)  # no selection: both are real
    assert len(unselected) == 2 and "this scenario plans 200,000 runs" in unselected[0]


def test_a_low_cap_refuses_no_matrix_it_does_not_run() -> None:
    # A matrix of 50,000 cells is made even when its scenario is not selected (to check
    # run keys): a cap of 5 runs does not make it an error, 100,000 cells still would.
    text = HEAD + scenario("wide", 1, 50_000, tags="wide")
    text += scenario("smoke", 1, 5, tags="smoke").replace("30", "31")
    assert len(compile_text(text, tags=("smoke",), max_runs=5).runs) == 5


def test_with_shards_the_selection_may_plan_n_per_shard_and_each_shard_at_most_n() -> None:
    text = HEAD + scenario("s", 10, 10)  # 100 runs
    shards = [compile_text(text, shard=(i, 4), max_runs=40) for i in (1, 2, 3, 4)]
    sizes = sorted(len(p.runs) for p in shards)
    assert sum(sizes) == 100
    # Over 4 shards, 100 runs need at least 25 per shard: some shard is over 24.
    assert suite_errors(text, shard=(1, 4), max_runs=24) == [
        "suite.yaml:10:5: this scenario plans 100 runs (cells x repeat), more than the 96 "
        f"--max-runs allows over 4 shards (24 each): {NARROW}"
    ]
    # Under N x S, each shard is still held to N exactly, once its runs are made.
    largest, index = max((len(p.runs), i) for i, p in enumerate(shards, 1))
    assert largest > 25  # (the keys of this suite split unevenly)
    with pytest.raises(UsageError) as caught:
        compile_text(text, shard=(index, 4), max_runs=largest - 1)
    assert str(caught.value) == (
        f"--shard {index}/4 plans {largest} runs, more than the {largest - 1} --max-runs "
        "allows: cut the plan into more shards, narrow the selection (--tag, --scenario) "
        "or raise --max-runs"
    )
    assert len(compile_text(text, shard=(index, 4), max_runs=largest).runs) == largest


def test_a_suite_just_under_the_default_cap_plans() -> None:
    # 100 cells x 1000 repeats: exactly 100,000 runs.
    text = HEAD + scenario("full", 1000, 100)
    started = time.perf_counter()
    planned = compile_text(text)
    assert len(planned.runs) == DEFAULT_MAX_RUNS
    assert time.perf_counter() - started < 60
    over = HEAD + scenario("full", 1000, 100, "    include:\n      - {n: 100}\n")
    assert suite_errors(over)[0].endswith(
        "this scenario plans 101,000 runs (cells x repeat), more than the 100,000 "
        f"--max-runs allows (its default): {NARROW}"
    )


def test_the_expansion_itself_refuses_past_its_limit() -> None:
    matrix = {name: list(range(10)) for name in "abcdefghi"}
    assert cell_bound(matrix, [{"a": 1}]) == 10**9 + 1
    assert cell_bound(None) == 1
    assert cell_bound(None, [{"a": 1}, {"a": 2}]) == 2
    started = time.perf_counter()
    with pytest.raises(TooManyCells) as caught:
        expand_cells(matrix, limit=1000)
    assert time.perf_counter() - started < 1.0
    assert (caught.value.bound, caught.value.limit) == (10**9, 1000)
    assert expand_cells({"a": [1, 2]}, limit=2) == [{"a": 1}, {"a": 2}]


def test_the_cap_is_read_from_the_plan_request_and_checked(tmp_path: Path) -> None:
    path = str(write_suite(tmp_path, HEAD + scenario("s", 3, 4)))
    assert len(plan(PlanRequest(path, max_runs=12), environ={}).runs) == 12
    assert validate(path, {}, max_runs=12).runs == {None: 12}
    for bad in (0, -1):
        with pytest.raises(UsageError, match="--max-runs"):
            plan(PlanRequest(path, max_runs=bad), environ={})
        with pytest.raises(UsageError, match="--max-runs"):
            validate(path, {}, max_runs=bad)


def test_a_start_record_without_max_runs_still_reads() -> None:
    request = PlanRequest("s.yaml", tags=("a",), max_runs=5)
    written = request.as_json()
    assert written["max_runs"] == 5
    assert PlanRequest.from_json(written) == request
    del written["max_runs"]
    assert PlanRequest.from_json(written) == PlanRequest("s.yaml", tags=("a",))
    del written["tags"]
    with pytest.raises(KeyError):
        PlanRequest.from_json(written)


@pytest.fixture
def big_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    # 200 cells x 1000 repeats: 200,000 runs, over the default cap.
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, HEAD + scenario("big", 1000, 200), "big.yaml")
    return "big.yaml"


@pytest.mark.parametrize(
    "args",
    [["validate"], ["plan", "--format", "json"], ["run", "--dry-run"]],
    ids=["validate", "plan", "run"],
)
def test_max_runs_raises_the_cap_on_the_command_line(big_suite: str, args: list[str]) -> None:
    advice = (
        "lower a repeat, trim a matrix, or raise --max-runs" if args[0] == "validate" else NARROW
    )
    refused = cli(args[0], big_suite, *args[1:])
    assert refused.exit_code == 2
    assert (
        "big.yaml:10:5: this scenario plans 200,000 runs (cells x repeat), more than the "
        f"100,000 --max-runs allows (its default): {advice}"
    ) in refused.output
    lower = cli(args[0], big_suite, *args[1:], "--max-runs", "199999")
    assert lower.exit_code == 2
    assert "more than the 199,999 --max-runs allows:" in lower.output
    if args[0] == "run":
        return  # a dry run of 200,000 runs takes too long for a unit test
    allowed = cli(args[0], big_suite, *args[1:], "--max-runs", "200000")
    assert allowed.exit_code == 0, allowed.output
    if args[0] == "validate":
        assert allowed.output == "big.yaml: valid (200000 runs)\n"


def test_run_dry_run_plans_with_a_raised_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CEKURA_API_KEY", "key-for-a-dry-run")
    write_suite(tmp_path, HEAD + scenario("s", 3, 4), "small.yaml")
    refused = cli("run", "small.yaml", "--dry-run", "--max-runs", "11")
    assert refused.exit_code == 2
    assert "this scenario plans 12 runs (cells x repeat), more than the 11" in refused.output
    result = cli("run", "small.yaml", "--dry-run", "--max-runs", "12")
    assert result.exit_code == 0, result.output
    assert "12 runs in 4 cells of 1 scenario" in result.output


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_a_max_runs_below_one_is_a_usage_error(tmp_path: Path, command: str, value: str) -> None:
    path = write_suite(tmp_path, HEAD + scenario("s", 1, 1))
    result = cli(command, str(path), "--max-runs", value)
    assert result.exit_code == 2
    assert "Invalid value for '--max-runs'" in result.output
