"""Properties of plans, checked on generated suites.

Suites are built as Python dicts, dumped with yaml.safe_dump, then loaded, schema-checked
and compiled through the real pipeline. Oracles are computed independently, by brute force.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specrunner.errors import SuiteError
from specrunner.models import Plan
from specrunner.suite.compile import CompileOptions, compile_plan
from specrunner.suite.load import load_text
from specrunner.suite.validate import check_version, schema_diagnostics

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ROOMS = {
    "lab": {"source": "static", "url": "https://acme.daily.co/lab"},
    "bot": {"source": "pipecat_cloud", "agent_name": "bot", "api_key": "{{ env.get('K', 'k') }}"},
}

# Matrix variable names and values. No booleans or floats: YAML's `1`, `1.0` and `true`
# compare equal in Python, which is its own unit test (test_matrix); here the oracle and the
# compiler should agree on what "the same value" means without that ambiguity.
var_names = st.sampled_from(["locale", "size", "persona", "tier", "x", "y_2"])
values = st.one_of(st.integers(0, 3), st.sampled_from(["en", "es", "fr", "a b", "0", "1"]))
scenario_names = st.text(alphabet="abcdefgh-", min_size=1, max_size=8).filter(lambda s: s[0] != "-")


def compile_suite(suite: dict[str, Any], **options: Any) -> Plan:
    doc = load_text(yaml.safe_dump(suite, sort_keys=False), "prop.yaml")
    assert check_version(doc) is None
    problems = schema_diagnostics(doc)
    if problems:
        raise SuiteError(problems)
    options.setdefault("environ", {})
    return compile_plan(doc, CompileOptions(**options))


@st.composite
def matrices(draw: st.DrawFn, unique_values: bool = True) -> dict[str, list[Any]]:
    names = draw(st.lists(var_names, min_size=0, max_size=3, unique=True))
    return {
        name: draw(st.lists(values, min_size=1, max_size=3, unique=unique_values)) for name in names
    }


@st.composite
def excludes(draw: st.DrawFn, matrix: dict[str, list[Any]]) -> list[dict[str, Any]]:
    if not matrix:
        return []
    rules = []
    for _ in range(draw(st.integers(0, 3))):
        keys = draw(st.lists(st.sampled_from(sorted(matrix)), min_size=1, unique=True))
        # Mostly values of the matrix, sometimes one it does not have (matches nothing).
        rules.append({k: draw(st.one_of(st.sampled_from(matrix[k]), values)) for k in keys})
    return rules


@st.composite
def scenarios(draw: st.DrawFn, name: str, unique_values: bool = True) -> dict[str, Any]:
    scenario: dict[str, Any] = {
        "id": draw(st.integers(1, 10_000)),
        "name": name,
        "room": draw(st.sampled_from(sorted(ROOMS))),
    }
    if draw(st.booleans()):
        scenario["repeat"] = draw(st.integers(1, 3))
    matrix = draw(matrices(unique_values))
    if matrix:
        scenario["matrix"] = matrix
        rules = draw(excludes(matrix))
        if rules:
            scenario["exclude"] = rules
    if draw(st.booleans()):
        scenario["timeout"] = draw(st.sampled_from(["90s", "10m", 600, "1h30m"]))
    if draw(st.booleans()):
        scenario["publish_data_message"] = {"k": "{{ run.key }}", "n": draw(values)}
    return scenario


@st.composite
def suites(draw: st.DrawFn, unique_values: bool = True) -> dict[str, Any]:
    names = draw(st.lists(scenario_names, min_size=1, max_size=4, unique=True))
    return {
        "version": 1,
        "name": draw(st.sampled_from(["prop", "nightly.v2", "a_b-c"])),
        "rooms": ROOMS,
        "scenarios": [draw(scenarios(name, unique_values)) for name in names],
    }


# ---- oracles -----------------------------------------------------------------------------


def oracle_cells(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """Product of the matrix minus excluded combinations, by brute force."""
    matrix = scenario.get("matrix") or {}
    names = list(matrix)
    product = [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(matrix[n] for n in names))
    ]
    rules = scenario.get("exclude", [])
    return [
        cell
        for cell in product
        if not any(all(k in cell and cell[k] == v for k, v in rule.items()) for rule in rules)
    ]


def run_identity(plan: Plan) -> dict[tuple[str, str, int], str]:
    """(scenario name, cell, repeat) -> run key, for every run of the plan."""
    return {(r.scenario, json.dumps(r.cell, sort_keys=True), r.repeat): r.key for r in plan.runs}


# ---- properties --------------------------------------------------------------------------


@SETTINGS
@given(suites())
def test_number_of_runs_is_cells_times_repeat(suite: dict[str, Any]) -> None:
    expected_cells = [oracle_cells(s) for s in suite["scenarios"]]
    if any(not cells for cells in expected_cells):
        try:
            compile_suite(suite)
        except SuiteError as error:
            assert any("has no cells left" in d.message for d in error.diagnostics)
            return
        raise AssertionError("a scenario without cells was accepted")
    plan = compile_suite(suite)
    expected = sum(
        len(cells) * s.get("repeat", 1)
        for cells, s in zip(expected_cells, suite["scenarios"], strict=True)
    )
    assert len(plan.runs) == expected
    assert plan.total_runs == expected
    per_scenario = Counter(r.scenario for r in plan.runs)
    for cells, scenario in zip(expected_cells, suite["scenarios"], strict=True):
        assert per_scenario[scenario["name"]] == len(cells) * scenario.get("repeat", 1)
    # And the cells themselves, in order.
    for cells, planned in zip(expected_cells, plan.scenarios, strict=True):
        assert list(planned.cells) == cells


@SETTINGS
@given(suites(), st.integers(1, 8))
def test_shards_partition_the_plan(suite: dict[str, Any], count: int) -> None:
    try:
        whole = compile_suite(suite)
    except SuiteError:
        return  # every cell excluded: covered above
    keys = [r.key for r in whole.runs]
    shards = [
        [r.key for r in compile_suite(suite, shard=(i, count)).runs] for i in range(1, count + 1)
    ]
    assert sorted(k for shard in shards for k in shard) == sorted(keys)
    for i, shard in enumerate(shards):
        for other in shards[i + 1 :]:
            assert not set(shard) & set(other)
        assert [k for k in keys if k in set(shard)] == shard


@st.composite
def changed(draw: st.DrawFn, suite: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The suite with unrelated edits; and the names of the scenarios that were kept."""
    kept = draw(
        st.lists(
            st.sampled_from(suite["scenarios"]),
            min_size=1,
            max_size=len(suite["scenarios"]),
            unique_by=lambda s: s["name"],
        )
    )
    edited = []
    for scenario in kept:
        scenario = dict(scenario)
        if draw(st.booleans()):
            scenario["id"] = draw(st.integers(1, 10_000))
        if draw(st.booleans()):
            scenario["room"] = draw(st.sampled_from(sorted(ROOMS)))
        if draw(st.booleans()):
            scenario["timeout"] = draw(st.sampled_from(["1m", "2h", 42]))
        if draw(st.booleans()):
            scenario["publish_data_message"] = {"other": draw(values), "i": "{{ run.index }}"}
        edited.append(scenario)
    taken = {s["name"] for s in suite["scenarios"]}
    extra = draw(st.lists(scenario_names.filter(lambda n: n not in taken), max_size=3, unique=True))
    for name in extra:
        edited.insert(draw(st.integers(0, len(edited))), draw(scenarios(name)))
    edited = draw(st.permutations(edited))
    result = dict(suite)
    result["scenarios"] = list(edited)
    if draw(st.booleans()):
        result["defaults"] = {
            "publish_data_message": {"added": "{{ suite.name }}"},
            "timeout": "5m",
        }
    return result, {s["name"] for s in kept}


@SETTINGS
@given(st.data())
def test_run_keys_are_stable_under_unrelated_changes(data: st.DataObject) -> None:
    suite = data.draw(suites())
    try:
        before = run_identity(compile_suite(suite))
    except SuiteError:
        return
    after_suite, kept = data.draw(changed(suite))
    try:
        after = run_identity(compile_suite(after_suite))
    except SuiteError:
        return  # an added scenario excludes every cell of its own: not what this checks
    for identity, key in before.items():
        if identity[0] in kept:
            assert after[identity] == key
    # No run of a kept scenario gained or lost a key either.
    assert {i for i in before if i[0] in kept} == {i for i in after if i[0] in kept}


@SETTINGS
@given(suites(unique_values=False), st.integers(1, 3))
def test_run_keys_are_unique_within_a_plan(suite: dict[str, Any], count: int) -> None:
    try:
        plan = compile_suite(suite)
    except SuiteError as error:
        # Acceptable only for a real problem: every cell excluded, or repeated cells
        # (a value repeated in a matrix list is a schema error).
        assert all(
            "cell" in d.message or "must not repeat an item" in d.message for d in error.diagnostics
        ), error
        return
    keys = [r.key for r in plan.runs]
    assert len(keys) == len(set(keys)), Counter(keys).most_common(1)
    for i in range(1, count + 1):
        shard = [r.key for r in compile_suite(suite, shard=(i, count)).runs]
        assert len(shard) == len(set(shard))


@SETTINGS
@given(suites())
def test_index_counts_runs_in_plan_order(suite: dict[str, Any]) -> None:
    try:
        plan = compile_suite(suite)
    except SuiteError:
        return
    assert [r.index for r in plan.runs] == list(range(len(plan.runs)))
    for run in plan.runs:
        if isinstance(run.publish_data_message, dict) and "k" in run.publish_data_message:
            assert run.publish_data_message["k"] == run.key
