"""Matrix cells with GitHub Actions semantics for include and exclude."""

from __future__ import annotations

import pytest

from conftest import compile_dict, dump, schema_errors, suite_errors
from specrunner.errors import SuiteError
from specrunner.suite.matrix import cell_label, expand_cells


def test_no_matrix_is_one_empty_cell() -> None:
    assert expand_cells(None) == [{}]
    assert expand_cells({}) == [{}]


def test_product_in_written_order_first_variable_slowest() -> None:
    assert expand_cells({"locale": ["en", "es"], "size": ["s", "m", "l"]}) == [
        {"locale": "en", "size": "s"},
        {"locale": "en", "size": "m"},
        {"locale": "en", "size": "l"},
        {"locale": "es", "size": "s"},
        {"locale": "es", "size": "m"},
        {"locale": "es", "size": "l"},
    ]


def test_cells_keep_value_types() -> None:
    cells = expand_cells({"n": [1, 2.5], "flag": [True], "obj": [{"a": [1]}], "none": [None]})
    assert cells == [
        {"n": 1, "flag": True, "obj": {"a": [1]}, "none": None},
        {"n": 2.5, "flag": True, "obj": {"a": [1]}, "none": None},
    ]


def test_exclude_full_match() -> None:
    cells = expand_cells({"a": [1, 2], "b": ["x", "y"]}, exclude=[{"a": 2, "b": "y"}])
    assert cells == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}]


def test_exclude_partial_match_drops_every_matching_cell() -> None:
    cells = expand_cells({"a": [1, 2], "b": ["x", "y"]}, exclude=[{"a": 1}])
    assert cells == [{"a": 2, "b": "x"}, {"a": 2, "b": "y"}]


def test_exclude_with_an_unknown_key_drops_nothing() -> None:
    assert expand_cells({"a": [1, 2]}, exclude=[{"z": 1}]) == [{"a": 1}, {"a": 2}]


def test_exclude_compares_types_strictly() -> None:
    # YAML `false` and `0` are different values; so are `true` and `1`.
    assert expand_cells({"retries": [0, 1]}, exclude=[{"retries": False}]) == [
        {"retries": 0},
        {"retries": 1},
    ]
    assert expand_cells({"flag": [True, 1]}, exclude=[{"flag": 1}]) == [{"flag": True}]


def test_include_adds_keys_to_matching_cells() -> None:
    cells = expand_cells(
        {"locale": ["en", "es"], "persona": ["polite", "impatient"]},
        include=[{"persona": "impatient", "interrupt": True}],
    )
    assert cells == [
        {"locale": "en", "persona": "polite"},
        {"locale": "en", "persona": "impatient", "interrupt": True},
        {"locale": "es", "persona": "polite"},
        {"locale": "es", "persona": "impatient", "interrupt": True},
    ]


def test_include_with_only_new_keys_extends_every_cell() -> None:
    assert expand_cells({"a": [1, 2]}, include=[{"color": "green"}]) == [
        {"a": 1, "color": "green"},
        {"a": 2, "color": "green"},
    ]


def test_include_that_matches_no_cell_becomes_a_new_cell() -> None:
    assert expand_cells({"a": [1, 2]}, include=[{"a": 3, "b": "x"}]) == [
        {"a": 1},
        {"a": 2},
        {"a": 3, "b": "x"},
    ]


def test_include_conflicting_with_an_original_value_becomes_a_new_cell() -> None:
    cells = expand_cells({"a": [1], "b": ["x"]}, include=[{"a": 1, "b": "y"}])
    assert cells == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}]


def test_include_may_overwrite_values_added_by_an_earlier_include() -> None:
    cells = expand_cells({"a": [1, 2]}, include=[{"color": "green"}, {"a": 1, "color": "pink"}])
    assert cells == [{"a": 1, "color": "pink"}, {"a": 2, "color": "green"}]


def test_include_never_changes_an_original_value() -> None:
    cells = expand_cells({"a": [1, 2]}, include=[{"a": 2, "b": 1}])
    assert cells == [{"a": 1}, {"a": 2, "b": 1}]


def test_exclude_comes_before_include() -> None:
    # An include can bring back an excluded combination as a cell of its own.
    cells = expand_cells({"a": [1, 2]}, include=[{"a": 1, "b": 3}], exclude=[{"a": 1}])
    assert cells == [{"a": 2}, {"a": 1, "b": 3}]


def test_github_actions_documentation_example() -> None:
    # The example from GitHub's "Expanding or adding matrix configurations".
    cells = expand_cells(
        {"fruit": ["apple", "pear"], "animal": ["cat", "dog"]},
        include=[
            {"color": "green"},
            {"color": "pink", "animal": "cat"},
            {"fruit": "apple", "shape": "circle"},
            {"fruit": "banana"},
            {"fruit": "banana", "animal": "cat"},
        ],
    )
    assert cells == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]


def test_docs_matrix_demo() -> None:
    cells = expand_cells(
        {"locale": ["en-US", "es-ES"], "persona": ["polite", "impatient"]},
        include=[
            {"persona": "impatient", "interrupt": True},
            {"locale": "de-DE", "persona": "polite"},
        ],
        exclude=[{"locale": "es-ES", "persona": "impatient"}],
    )
    assert cells == [
        {"locale": "en-US", "persona": "polite"},
        {"locale": "en-US", "persona": "impatient", "interrupt": True},
        {"locale": "es-ES", "persona": "polite"},
        {"locale": "de-DE", "persona": "polite"},
    ]


def test_include_without_matrix_lists_exact_cells() -> None:
    assert expand_cells(None, include=[{"a": 1}, {"a": 2, "b": 3}]) == [{"a": 1}, {"a": 2, "b": 3}]


def test_every_cell_excluded_is_empty() -> None:
    assert expand_cells({"a": [1, 2]}, exclude=[{"a": 1}, {"a": 2}]) == []


def test_inputs_are_not_modified() -> None:
    matrix = {"a": [1, 2]}
    include = [{"b": 1}, {"a": 3}]
    exclude = [{"a": 2}]
    expand_cells(matrix, include, exclude)
    assert matrix == {"a": [1, 2]}
    assert include == [{"b": 1}, {"a": 3}]
    assert exclude == [{"a": 2}]


def test_new_cells_are_copies_of_include_entries() -> None:
    include = [{"a": 3}]
    cells = expand_cells({"a": [1]}, include)
    cells[-1]["x"] = 1
    assert include == [{"a": 3}]


@pytest.mark.parametrize(
    ("cell", "label"),
    [
        ({}, "-"),
        ({"locale": "en-US", "size": "small"}, "locale=en-US size=small"),
        ({"n": 1, "flag": True, "obj": {"a": 1}}, 'n=1 flag=true obj={"a":1}'),
    ],
)
def test_cell_label(cell: dict[str, object], label: str) -> None:
    assert cell_label(cell) == label


# ---- through the compiler --------------------------------------------------------------


def scenario_suite(**scenario: object) -> dict[str, object]:
    return {
        "version": 1,
        "name": "m",
        "rooms": {"lab": {"source": "static", "url": "u"}},
        "scenarios": [{"id": 1, "name": "s", **scenario}],
    }


def test_cells_reach_templates_including_included_keys() -> None:
    plan = compile_dict(
        scenario_suite(
            matrix={"locale": ["en", "es"]},
            include=[{"locale": "es", "formal": True}],
            publish_data_message={
                "l": "{{ matrix.locale }}",
                "f": "{{ matrix.formal | default(false) }}",
            },
        )
    )
    assert [r.publish_data_message for r in plan.runs] == [
        {"l": "en", "f": False},
        {"l": "es", "f": True},
    ]
    assert [r.cell for r in plan.runs] == [{"locale": "en"}, {"locale": "es", "formal": True}]


def test_scenario_with_every_cell_excluded_is_an_error_at_exclude() -> None:
    errors = suite_errors("""
        version: 1
        name: m
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: 1
            name: s
            matrix: {a: [1, 2]}
            exclude:
              - {a: 1}
              - {a: 2}
    """)
    assert errors == [
        "suite.yaml:10:7: scenario 's' has no cells left: `exclude` drops every cell of its matrix"
    ]


def test_exclude_from_defaults_applies_to_a_scenario_matrix() -> None:
    suite = scenario_suite(matrix={"a": [1, 2]})
    suite["defaults"] = {"exclude": [{"a": 2}]}
    assert [r.cell for r in compile_dict(suite).runs] == [{"a": 1}]


@pytest.mark.parametrize("matrix", [{"a": [1, 1]}, {"a": [{"x": 1}, {"x": 1}]}])
def test_repeated_matrix_values_are_refused(matrix: object) -> None:
    # Two equal values would make two runs under one key (keys identify runs in reports,
    # shards and --resume), so the schema refuses them.
    errors = schema_errors(dump(scenario_suite(matrix=matrix)))
    assert len(errors) == 1
    assert "matrix.a: must not repeat an item" in errors[0]


def test_repeated_include_entries_do_not_give_two_runs_the_same_key() -> None:
    try:
        plan = compile_dict(scenario_suite(include=[{"a": 1}, {"a": 1}]))
    except SuiteError as error:
        assert len(error.diagnostics) == 1
        return
    keys = [r.key for r in plan.runs]
    assert len(keys) == len(set(keys)), f"duplicate run keys: {keys}"
