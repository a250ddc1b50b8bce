"""What one of Cekura's Run objects says: whether the fields specrunner reads have the types
it expects (schemas/cekura-run.v1.json), and, when they do, the run's outcome.

A poll answer may hold anything. Each Run object is checked on its own before it is read,
so that a field of a wrong type ends that run as an error naming the field (`duration is a
list`) while the others carry on, and nothing downstream meets a value it cannot handle.
(Of a run still live, with a status that is a string and not final, the executor reads the
status alone; the rest is checked and read once it is final.)
A shape check compiled once (specrunner/shape.py) says whether a Run object conforms, in
about 8 microseconds; jsonschema says what is wrong only when it does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from specrunner.models import Outcome
from specrunner.schemas import load_schema
from specrunner.shape import Check, compile_shape

FINAL_STATUSES = frozenset({"completed", "failed", "timeout", "cancelled"})
PROBLEM = "specrunner:problem"
"""The key of a stand-in for a Run object specrunner could not read (one over the cap on
an answer): `run_problem` returns its text."""


def run_schema() -> dict[str, Any]:
    """The schema of a Run object (schemas/cekura-run.v1.json)."""
    return load_schema("cekura-run")


def _is_integer(_checker: Any, instance: Any) -> bool:
    # JSON Schema counts 1.0 as an integer, and Python counts True as one: a run id is neither.
    return isinstance(instance, int) and not isinstance(instance, bool)


@cache
def _validator() -> Any:
    """The schema's validator, made (and jsonschema imported: a tenth of specrunner's
    start-up) only when a Run object does not conform, to say what is wrong."""
    from jsonschema import Draft202012Validator, validators

    extend: Any = validators.extend  # untyped in jsonschema's stubs
    run_validator = extend(
        Draft202012Validator,
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
    )
    schema = run_schema()
    Draft202012Validator.check_schema(schema)
    return run_validator(schema)


@cache
def _conforms() -> Check:
    """The same verdict as the validator, many times faster; the validator then says what
    is wrong (see specrunner/shape.py)."""
    return compile_shape(run_schema(), whole_integers=True)


def what_is_read(data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a (checked) Run object that specrunner reads (those the schema
    names), without the rest: kept for 10,000 runs, a whole Run object (a structured copy
    of the transcript, metadata, ...) would take several times the memory."""
    return {name: data[name] for name in _read_fields() if name in data}


@cache
def _read_fields() -> tuple[str, ...]:
    return tuple(run_schema()["properties"])


def run_problem(data: Mapping[str, Any]) -> str | None:
    """The first wrong field of a Cekura Run object, or None: `status is a list`,
    `evaluation.metrics[2].score is a string`, `id is missing or null`. Fields are checked
    in the schema's order (id, status, success, error_message, ...); fields the schema does
    not name may hold anything."""
    stand_in = data.get(PROBLEM)
    if isinstance(stand_in, str):
        return stand_in
    if _conforms()(data):
        return None
    error = next(iter(_validator().iter_errors(data)), None)
    if error is None:
        return None
    path = _path(error.absolute_path)
    if error.validator == "required":
        missing = next(
            (name for name in error.validator_value if name not in error.instance), "a field"
        )
        return f"{_joined(path, missing)} is missing or null"
    return f"{path or 'the Run object'} is {_kind(error.instance)}"


def _path(parts: Iterable[str | int]) -> str:
    """`evaluation.metrics[0].score`."""
    text = ""
    for part in parts:
        text = _joined(text, part)
    return text


def _joined(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def _kind(value: Any) -> str:
    """What a JSON value is, for a message: `a list`, `an object`, `null`."""
    if value is None:
        return "missing or null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def outcome_of(run: Mapping[str, Any]) -> tuple[Outcome, str | None] | None:
    """The outcome of a Cekura Run object, or None while it is not final. Fields of odd
    types never raise: a status that is not a string is not final, an error message that
    is not a string is not shown (check `run_problem` first to report them)."""
    status = run.get("status")
    if not isinstance(status, str) or status not in FINAL_STATUSES:
        return None
    if status == "completed":
        if run.get("success") is True:
            return Outcome.PASSED, None
        return Outcome.FAILED, None
    message = run.get("error_message")
    if not isinstance(message, str) or not message:
        message = f"the run ended {status}"
    return Outcome.ERROR, f"Cekura: {message}"
