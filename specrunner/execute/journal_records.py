"""The journal's format: its file name, its record kinds and the fields each must hold
(`RECORDS`), how one line is parsed, and the error a damaged journal is.

The writer (journal.py) refuses a record the reader (replay.py) would refuse, and the
reader checks every record against the same table, so the two never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from specrunner.errors import UsageError
from specrunner.models import Outcome

JOURNAL = "journal.jsonl"

DAMAGED = "the journal is damaged; --resume cannot tell which runs were sent: start a new run"


class JournalError(UsageError):
    """A journal that cannot be read back: a damaged line anywhere but its last."""


# -- the records


@dataclass(frozen=True, slots=True)
class FieldType:
    """What a record's field must hold, and the run keys it names (checked against the
    start record's keys)."""

    what: str
    test: Callable[[Any], bool]
    runs: Callable[[Any], Iterable[str]] = lambda value: ()


@dataclass(frozen=True, slots=True)
class RecordSpec:
    """A kind of record: its fields (name -> (type, required)), and groups of fields of
    which exactly one must be given."""

    fields: Mapping[str, tuple[FieldType, bool]]
    one_of: tuple[str, ...] = ()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str_list(value: Any, *, empty: bool) -> bool:
    return (
        isinstance(value, list)
        and (empty or bool(value))
        and all(isinstance(item, str) for item in value)
        and len(set(value)) == len(value)
    )


def _is_room(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("source"), str)
        and isinstance(value.get("url", ""), str)  # only in journals of older versions
        and (value.get("handle") is None or isinstance(value["handle"], str | int | float))
    )


TEXT = FieldType("a string", lambda v: isinstance(v, str))
TEXT_OR_NULL = FieldType("a string or null", lambda v: v is None or isinstance(v, str))
BOOLEAN = FieldType("true or false", lambda v: isinstance(v, bool))
INTEGER = FieldType("an integer", _is_int)
ID_OR_NULL = FieldType("an integer or null", lambda v: v is None or _is_int(v))
BATCH = FieldType("a batch number (an integer from 1)", lambda v: _is_int(v) and v >= 1)
OBJECT = FieldType("an object", lambda v: isinstance(v, dict))
DIGESTS = FieldType(
    "an object of strings",
    lambda v: isinstance(v, dict) and all(isinstance(d, str) for d in v.values()),
)
PLANNED_KEYS = FieldType("a list of distinct strings", lambda v: _is_str_list(v, empty=True))
KEY = FieldType("a run key (a string)", lambda v: isinstance(v, str), lambda v: (v,))
KEYS = FieldType(
    "a non-empty list of distinct run keys", lambda v: _is_str_list(v, empty=False), list
)
RUN_IDS = FieldType(
    "an object of run keys to integer run ids",
    lambda v: isinstance(v, dict) and all(_is_int(i) for i in v.values()),
    list,
)
ROOMS = FieldType(
    'an object of run keys to rooms ({"source": string, "handle": ...})',
    lambda v: isinstance(v, dict) and all(_is_room(room) for room in v.values()),
    list,
)
_OUTCOMES = frozenset(o.value for o in Outcome)
OUTCOME = FieldType(
    "an outcome (" + ", ".join(o.value for o in Outcome) + ")",
    lambda v: isinstance(v, str) and v in _OUTCOMES,
)

_ENDED = RecordSpec({"batch": (BATCH, False), "keys": (KEYS, False), "reason": (TEXT, True)})

RECORDS: Mapping[str, RecordSpec] = {
    "start": RecordSpec(
        {
            "keys": (PLANNED_KEYS, True),
            "request": (OBJECT, True),
            "version": (INTEGER, False),
            "specrunner": (TEXT, False),
            "started_at": (TEXT_OR_NULL, False),
            "fingerprint": (DIGESTS, False),
            "emulator": (BOOLEAN, False),
        }
    ),
    "intent": RecordSpec({"batch": (BATCH, True), "keys": (KEYS, True), "rooms": (ROOMS, False)}),
    "submitted": RecordSpec(
        {"batch": (BATCH, True), "result_id": (INTEGER, True), "runs": (RUN_IDS, True)}
    ),
    "not_sent": RecordSpec(_ENDED.fields, one_of=("batch", "keys")),
    "rejected": RecordSpec(_ENDED.fields, one_of=("batch", "keys")),
    "unknown": RecordSpec(_ENDED.fields, one_of=("batch", "keys")),
    "final": RecordSpec(
        {
            "key": (KEY, True),
            "outcome": (OUTCOME, True),
            "status": (TEXT_OR_NULL, False),
            "run_id": (ID_OR_NULL, False),
            "result_id": (ID_OR_NULL, False),
            "error": (TEXT_OR_NULL, False),
        }
    ),
    "released": RecordSpec({"key": (KEY, True)}),
}
"""Every kind of record, its fields and their types. Other fields are allowed (and
ignored); a `batch` other than an intent's names an earlier intent."""


def record_problem(record: Mapping[str, Any]) -> str | None:
    """What is wrong with `record` on its own (its kind, its fields and their types), or
    None. The run keys and batches it names are checked against the journal by
    `read_records`."""
    kind = record.get("type")
    if not isinstance(kind, str):
        return 'no "type" (a string) to say what record it is'
    spec = RECORDS.get(kind)
    if spec is None:
        return f"an unknown type of record, {kind!r} (known: {', '.join(RECORDS)})"
    for name, (field_type, required) in spec.fields.items():
        if name not in record:
            if required:
                return f'{an(kind)} record without "{name}" ({field_type.what})'
        elif not field_type.test(record[name]):
            return (
                f'{an(kind)} record whose "{name}" is {json_type(record[name])}, '
                f"not {field_type.what}"
            )
    if spec.one_of and sum(name in record for name in spec.one_of) != 1:
        return f"{an(kind)} record needs exactly one of " + " or ".join(
            f'"{name}"' for name in spec.one_of
        )
    return None


def an(kind: str) -> str:
    """The kind of record with its article: "an intent", "a final"."""
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def parse_line(raw: bytes) -> tuple[Any, str | None]:
    """A line's JSON value, or what is wrong with the line."""
    nul = raw.find(b"\0")
    if nul >= 0:
        return None, f"a NUL byte (at byte {nul + 1})"
    if not raw.strip():
        return None, "a blank line"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (at byte {exc.start + 1})"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg}, at column {exc.colno})"
