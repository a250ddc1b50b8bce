"""The report's TypedDicts (specrunner/report/records.py) stay in step with its schema.

The code is type-checked against the records and reports are checked against
schemas/report.v1.json at run time; these tests walk the two side by side, so neither can
change alone, and check that real reports have the records' shape.
"""

from __future__ import annotations

import copy
import json
import types
from collections.abc import Callable, Iterator
from typing import (
    Any,
    Literal,
    NotRequired,
    Required,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

import pytest
from jsonschema import Draft202012Validator
from report_factory import SCHEMA, cells_report, make_report
from reportkit import hostile, sample, synthetic

from specrunner.report.records import Report

JSON_TYPES: dict[type, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
    list: "array",
    dict: "object",
}


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return schema


# ---- the schema's side


def alternatives(node: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas a value may match: `$ref`s resolved in `$defs`, `anyOf`s flattened."""
    if "$ref" in node:
        return alternatives(defs[node["$ref"].removeprefix("#/$defs/")], defs)
    if "anyOf" in node:
        return [alt for option in node["anyOf"] for alt in alternatives(option, defs)]
    return [node]


def kinds(node: dict[str, Any]) -> set[str]:
    kind = node.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def constants(node: dict[str, Any]) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    enum: list[Any] | None = node.get("enum")
    return enum


def schema_types(alts: list[dict[str, Any]]) -> set[str] | None:
    """The JSON types the schemas allow; None when one of them allows anything."""
    found: set[str] = set()
    for alt in alts:
        values = constants(alt)
        if values is not None:
            found |= {JSON_TYPES[type(v)] for v in values}
        elif "type" in alt:
            found |= kinds(alt)
        else:
            return None
    return found


# ---- the records' side


def members(hint: Any) -> list[Any]:
    """The types a hint allows, with `NotRequired` and unions unwrapped."""
    origin = get_origin(hint)
    if origin in (NotRequired, Required):
        return members(get_args(hint)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in get_args(hint) for m in members(arg)]
    return [hint]


def hint_types(hint: Any) -> set[str] | None:
    """The JSON types a hint allows; None for `Any`."""
    found: set[str] = set()
    for member in members(hint):
        if member is Any:
            return None
        if get_origin(member) is Literal:
            found |= {JSON_TYPES[type(v)] for v in get_args(member)}
        elif is_typeddict(member):
            found.add("object")
        else:
            found.add(JSON_TYPES[get_origin(member) or member])
    return found


def shown(found: set[str] | set[Any] | None) -> str:
    return "anything" if found is None else str(sorted(found, key=str))


def member_of(hint: Any, test: Callable[[Any], bool]) -> Any:
    return next((m for m in members(hint) if test(m)), None)


def literals(hint: Any) -> set[Any] | None:
    literal = member_of(hint, lambda m: get_origin(m) is Literal)
    return set(get_args(literal)) if literal is not None else None


# ---- the walk


def problems(node: dict[str, Any], hint: Any, where: str, defs: dict[str, Any]) -> Iterator[str]:
    """Where the record `hint` says something else than the schema `node`."""
    alts = alternatives(node, defs)
    allowed, declared = schema_types(alts), hint_types(hint)
    if allowed != declared:
        yield f"{where}: the schema allows {shown(allowed)}, the record {shown(declared)}"
    values = [v for alt in alts for v in constants(alt) or ()]
    if values and set(values) != literals(hint):
        yield f"{where}: the schema allows {values}, the record {shown(literals(hint))}"
    for alt in alts:
        if "object" in kinds(alt):
            yield from object_problems(alt, hint, where, defs)
        if "array" in kinds(alt) and "items" in alt:
            array = member_of(hint, lambda m: get_origin(m) is list)
            if array is not None:
                yield from problems(alt["items"], get_args(array)[0], f"{where}[]", defs)


def object_problems(
    node: dict[str, Any], hint: Any, where: str, defs: dict[str, Any]
) -> Iterator[str]:
    record = member_of(hint, is_typeddict)
    if "properties" not in node:
        # Free-form in the schema (a cell's values, the metrics' means): a plain dict.
        if record is not None:
            yield f"{where}: free-form in the schema, but {record.__name__} in the records"
        extra = node.get("additionalProperties")
        mapping = member_of(hint, lambda m: get_origin(m) is dict)
        if isinstance(extra, dict) and mapping is not None:
            yield from problems(extra, get_args(mapping)[1], f"{where}.*", defs)
        return
    if record is None:
        yield f"{where}: an object with properties in the schema, but no TypedDict"
        return
    name = f"{where} ({record.__name__})"
    hints = get_type_hints(record, include_extras=True)
    properties: dict[str, Any] = node["properties"]
    if set(hints) != set(properties):
        yield f"{name}: the keys {sorted(hints)} are not the schema's {sorted(properties)}"
    required = set(node.get("required", ()))
    if set(record.__required_keys__) != required:
        yield (
            f"{name}: the required keys {sorted(record.__required_keys__)} are not the "
            f"schema's {sorted(required)}"
        )
    for key in sorted(properties.keys() & hints.keys()):
        yield from problems(properties[key], hints[key], f"{where}.{key}", defs)


def schema_problems(schema: dict[str, Any]) -> list[str]:
    return list(problems(schema, Report, "report", schema["$defs"]))


def test_the_records_are_the_schema() -> None:
    assert schema_problems(load_schema()) == []


def _add_metric_key(schema: dict[str, Any]) -> None:
    schema["$defs"]["metric"]["properties"]["unit"] = {"type": "string"}


def _require_metric_score(schema: dict[str, Any]) -> None:
    schema["$defs"]["metric"]["required"].append("score")


def _status_not_null(schema: dict[str, Any]) -> None:
    schema["$defs"]["run"]["properties"]["status"]["type"] = "string"


def _new_outcome(schema: dict[str, Any]) -> None:
    schema["$defs"]["outcome"]["enum"].append("skipped")


def _shard_as_object(schema: dict[str, Any]) -> None:
    shard = {"type": "object", "required": ["i"], "properties": {"i": {"type": "integer"}}}
    schema["properties"]["selection"]["properties"]["shard"] = shard


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (_add_metric_key, "report.runs[].metrics[] (ReportMetric)"),
        (_require_metric_score, "report.runs[].metrics[] (ReportMetric)"),
        (_status_not_null, "report.runs[].status"),
        (_new_outcome, "report.runs[].outcome"),
        (_shard_as_object, "report.selection.shard"),
    ],
)
def test_a_schema_change_alone_is_caught(
    change: Callable[[dict[str, Any]], None], where: str
) -> None:
    """The walk is not vacuous: each of these edits to the schema, not made to the
    records, is reported where it was made."""
    schema = copy.deepcopy(load_schema())
    change(schema)
    found = schema_problems(schema)
    assert found, "the change went unnoticed"
    assert all(problem.startswith(where) for problem in found), found


# ---- real reports


def shape_problems(value: Any, hint: Any, where: str) -> Iterator[str]:
    """Where the JSON `value` is not what the record `hint` says."""
    declared = hint_types(hint)
    if declared is None:
        return
    kind = JSON_TYPES[type(value)]
    if kind not in declared and not (kind == "integer" and "number" in declared):
        yield f"{where}: a {kind}, the record says {shown(declared)}"
        return
    allowed = literals(hint)
    if allowed is not None and value not in allowed:
        yield f"{where}: {value!r}, the record allows {shown(allowed)}"
    record = member_of(hint, is_typeddict)
    if isinstance(value, dict) and record is not None:
        hints = get_type_hints(record, include_extras=True)
        if unknown := sorted(value.keys() - hints.keys()):
            yield f"{where}: keys {unknown} are not in {record.__name__}"
        if missing := sorted(record.__required_keys__ - value.keys()):
            yield f"{where}: the required keys {missing} of {record.__name__} are missing"
        for key in sorted(value.keys() & hints.keys()):
            yield from shape_problems(value[key], hints[key], f"{where}.{key}")
    elif isinstance(value, dict):
        mapping = member_of(hint, lambda m: get_origin(m) is dict)
        for key, item in value.items():
            yield from shape_problems(item, get_args(mapping)[1], f"{where}.{key}")
    elif isinstance(value, list):
        array = member_of(hint, lambda m: get_origin(m) is list)
        for index, item in enumerate(value):
            yield from shape_problems(item, get_args(array)[0], f"{where}[{index}]")


@pytest.mark.parametrize(
    "make",
    [
        sample,
        hostile,
        cells_report,
        lambda: synthetic(60),
        lambda: make_report([["passed", "failed", "error", "unknown", "not_run"], ["passed"]]),
        lambda: make_report([], error=None, duration=None),
    ],
    ids=["sample", "hostile", "cells", "synthetic", "made", "empty"],
)
def test_real_reports_are_valid_and_have_the_records_shape(make: Callable[[], Report]) -> None:
    report = make()
    validator = Draft202012Validator(load_schema())
    assert [e.message for e in validator.iter_errors(report)] == []
    assert list(shape_problems(report, Report, "report")) == []


def test_the_shape_check_sees_into_nested_records() -> None:
    report: Any = sample()
    run = next(r for r in report["runs"] if r["metrics"])
    run["metrics"][0]["unit"] = "ms"
    del report["cells"][0]["met"]
    report["verdict"]["outcomes"]["passed"] = "3"
    report["runs"][0]["outcome"] = "skipped"
    found = list(shape_problems(report, Report, "report"))
    assert len(found) == 4, found
    assert any(p.startswith("report.runs[") and "['unit']" in p for p in found)
    assert any(p.startswith("report.cells[0]: the required keys ['met']") for p in found)
    assert any(p.startswith("report.verdict.outcomes.passed: a string") for p in found)
    assert any(p.startswith("report.runs[0].outcome: 'skipped'") for p in found)
