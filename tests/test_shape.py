"""The fast schema check says yes exactly when jsonschema does: on the shipped reports,
suites and emulator configurations, and on any mutation of them (a value replaced, a key
dropped or added)."""

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
from specrunner.suite.load import load_text
from test_examples import BLOCKS, SPECS, STARTER

DATA = Path(__file__).parent / "report" / "data"
REPORTS = [json.loads(p.read_text()) for p in sorted(DATA.glob("*report.json"))]
SCHEMA = load_schema("report")
FAST = compile_shape(SCHEMA)
SLOW = Draft202012Validator(SCHEMA)


def _documents(kind: str) -> list[Any]:
    """The suites (or emulator configurations) the project ships and shows, read as the
    loader reads them."""
    if kind == "suite":
        texts = [p.read_text(encoding="utf-8") for p in [*SPECS, STARTER]]
        texts += [b for _, b in BLOCKS if not b.startswith(("# excerpt", "# emulator"))]
    else:
        texts = [b for _, b in BLOCKS if b.startswith("# emulator configuration")]
    return [load_text(text).data for text in texts]


SHIPPED = {kind: _documents(kind) for kind in ("suite", "emulator")}
CHECKS = {
    kind: (compile_shape(load_schema(kind)), Draft202012Validator(load_schema(kind)))
    for kind in SHIPPED
}

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "passed", "failed", "error", "unknown", "not_run", "x"])
    | st.sampled_from(["static", "pipecat_cloud", "daily", "http", "command", "30m", "2h"])
    | st.sampled_from(["{{ run.key }}", "https://acme.daily.co/a", "a b", "-x", "1", "x\n"]),
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


@pytest.mark.parametrize("kind", sorted(SHIPPED))
def test_the_shipped_suites_and_emulator_configurations_conform(kind: str) -> None:
    fast, slow = CHECKS[kind]
    assert SHIPPED[kind]
    for document in SHIPPED[kind]:
        assert fast(document) and slow.is_valid(document)


def mutated(data: st.DataObject, original: Any) -> Any:
    """`original`, with one of its values replaced, or one key dropped or added."""
    document = copy.deepcopy(original)
    path = data.draw(st.sampled_from(paths(document)))
    action = data.draw(st.sampled_from(["replace", "drop", "add"]))
    if not path:
        return data.draw(JSON_VALUES)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "replace":
        parent[last] = data.draw(JSON_VALUES)
    elif action == "drop" and isinstance(parent, dict):
        del parent[last]
    elif isinstance(parent, dict):
        parent[data.draw(st.text(max_size=6))] = data.draw(JSON_VALUES)
    return document


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_and_jsonschema_agree_on_any_mutation(data: st.DataObject) -> None:
    report = mutated(data, data.draw(st.sampled_from(REPORTS)))
    assert FAST(report) == SLOW.is_valid(report)


@pytest.mark.parametrize("kind", sorted(SHIPPED))
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_and_jsonschema_agree_on_any_mutation_of_a_suite(
    kind: str, data: st.DataObject
) -> None:
    fast, slow = CHECKS[kind]
    document = mutated(data, data.draw(st.sampled_from(SHIPPED[kind])))
    assert fast(document) == slow.is_valid(document)


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
        ({"allOf": [{"type": "integer"}, {"minimum": 0}]}, -1, False),
        ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 1, False),
        ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, -1, True),
        ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, "x", True),
        ({"if": {"required": ["a"]}, "then": {"required": ["b"]}}, {"a": 1}, False),
        ({"if": {"required": ["a"]}, "then": {"required": ["b"]}}, {"c": 1}, True),
        ({"if": {"required": ["a"]}, "else": {"required": ["b"]}}, {"c": 1}, False),
        ({"then": {"required": ["b"]}}, {}, True),
        ({"dependentRequired": {"a": ["b", "c"]}}, {"a": 1, "b": 2}, False),
        ({"dependentRequired": {"a": ["b"]}}, {"b": 1}, True),
        ({"exclusiveMinimum": 0}, 0, False),
        ({"exclusiveMinimum": 0}, True, True),
        ({"exclusiveMaximum": 1}, 0.5, True),
        ({"exclusiveMaximum": 1}, 1.0, False),
        ({"pattern": "^a"}, "ba", False),
        ({"pattern": "b"}, "abc", True),
        ({"pattern": "^a$"}, "a\n", True),
        ({"pattern": "^a"}, 5, True),
        ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"A": 1}, False),
        ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"a": 1}, True),
        ({"uniqueItems": True}, ["a", "b", "a"], False),
        ({"uniqueItems": True}, [1, 1.0], False),
        ({"uniqueItems": True}, [1, True], True),
        ({"uniqueItems": True}, [{"a": [1]}, {"a": [1.0]}], False),
        ({"uniqueItems": False}, ["a", "a"], True),
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
