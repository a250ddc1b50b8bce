"""The fast schema check says yes exactly when jsonschema does: on the shipped reports,
and on any mutation of them (a value replaced, a key dropped or added)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from specrunner.schemas import load_schema
from specrunner.shape import ShapeError, compile_shape

DATA = Path(__file__).parent / "report" / "data"
REPORTS = [json.loads(p.read_text()) for p in sorted(DATA.glob("*report.json"))]
SCHEMA = load_schema("report")
FAST = compile_shape(SCHEMA)
SLOW = Draft202012Validator(SCHEMA)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "passed", "failed", "error", "unknown", "not_run", "x"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            found += paths(item, (*prefix, index))
    return found


def test_the_shipped_reports_conform() -> None:
    assert REPORTS
    for report in REPORTS:
        assert FAST(report) and SLOW.is_valid(report)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_and_jsonschema_agree_on_any_mutation(data: st.DataObject) -> None:
    report = copy.deepcopy(data.draw(st.sampled_from(REPORTS)))
    path = data.draw(st.sampled_from(paths(report)))
    action = data.draw(st.sampled_from(["replace", "drop", "add"]))
    if not path:
        report = data.draw(JSON_VALUES)
    else:
        parent = report
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if action == "replace":
            parent[last] = data.draw(JSON_VALUES)
        elif action == "drop" and isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(max_size=6))] = data.draw(JSON_VALUES)
    assert FAST(report) == SLOW.is_valid(report)


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        ({"type": "integer"}, 3.0, True),
        ({"type": "integer"}, True, False),
        ({"type": "number"}, False, False),
        ({"type": ["boolean", "null"]}, None, True),
        ({"const": 1}, True, False),
        ({"const": 1}, 1.0, True),
        ({"const": 1}, 2, False),
        ({"enum": [False, "a"]}, 0, False),
        ({"minimum": 0}, "not a number", True),
        ({"additionalProperties": False, "properties": {"a": {}}}, {"b": 1}, False),
        ({"$defs": {"n": {"type": "integer"}}, "items": {"$ref": "#/$defs/n"}}, [1, "x"], False),
        ({"not": {"required": ["a", "b"]}}, {"a": 1, "b": 2}, False),
        ({"not": {"required": ["a", "b"]}}, {"a": 1}, True),
        ({"not": {"required": ["a"]}}, "not an object", False),
    ],
)
def test_keywords_mean_what_jsonschema_says(
    schema: dict[str, Any], value: Any, expected: bool
) -> None:
    assert compile_shape(schema)(value) is expected
    assert Draft202012Validator(schema).is_valid(value) is expected


def test_a_keyword_it_cannot_check_is_refused_not_ignored() -> None:
    with pytest.raises(ShapeError, match="patternProperties"):
        compile_shape({"patternProperties": {"^a": {}}})
    with pytest.raises(ShapeError, match="local references"):
        compile_shape({"$ref": "https://example.com/schema.json"})
