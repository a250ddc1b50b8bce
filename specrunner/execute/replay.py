"""Reading a run's journal back, strictly: each planned run's last known state.

Every record is checked against `journal_records.RECORDS` and the records before it (its
run keys against the start record's, its batch against an intent). A damaged line is a
`JournalError` naming the file and the line; only a last line cut short by a crash (no
final newline, or not JSON) is ignored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specrunner.execute.journal_records import (
    DAMAGED,
    RECORDS,
    JournalError,
    an,
    json_type,
    parse_line,
    record_problem,
)

# -- reading


@dataclass(slots=True)
class RunState:
    """What the journal says about one planned run."""

    key: str
    batch: int | None = None
    run_id: int | None = None
    result_id: int | None = None
    room: Mapping[str, Any] | None = None
    released: bool = False
    unknown: str | None = None
    error: str | None = None
    final: Mapping[str, Any] | None = None

    @property
    def unsent(self) -> bool:
        """Nothing says it was (or may have been) sent, nor that it ended: a resumed run
        still sends it (see `Executor.restore`)."""
        return (
            self.final is None
            and self.run_id is None
            and self.error is None
            and self.unknown is None
            and self.batch is None
        )


@dataclass(slots=True)
class Replay:
    """The journal read back: the run's start record and each run's last known state."""

    start: Mapping[str, Any]
    runs: dict[str, RunState] = field(default_factory=dict)
    batches: int = 0


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """Each line of `path`: its number (from 1), its bytes, and whether it is the last."""
    with path.open("rb") as file:
        number, previous = 0, b""
        for raw in file:
            if number:
                yield number, previous, False
            number, previous = number + 1, raw
        if number:
            yield number, previous, True


class _Checker:
    """The checks of a record against the records before it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys: frozenset[str] | None = None
        self.intents: dict[int, frozenset[str]] = {}

    def fail(self, line: int, problem: str) -> JournalError:
        return JournalError(f"{self.path}:{line}: {problem} ({DAMAGED})")

    def check(self, line: int, record: Any) -> dict[str, Any]:
        if not isinstance(record, dict):
            raise self.fail(line, f"not a JSON object ({json_type(record)})")
        problem = record_problem(record)
        if problem is not None:
            raise self.fail(line, problem)
        kind = record["type"]
        if self.keys is None:
            if kind != "start":
                raise self.fail(line, f"{an(kind)} record where the start record should be")
            self.keys = frozenset(record["keys"])
            return record
        if kind == "start":
            raise self.fail(line, "a second start record")
        spec = RECORDS[kind]
        for name, (field_type, _) in spec.fields.items():
            for key in field_type.runs(record[name]) if name in record else ():
                if key not in self.keys:
                    raise self.fail(
                        line,
                        f'{an(kind)} record whose "{name}" names {key!r}, not a planned run',
                    )
        batch: int | None = record.get("batch")
        if kind == "intent":
            batch = int(record["batch"])
            if batch in self.intents:
                raise self.fail(line, f"a second intent of batch {batch}")
            keys = frozenset(record["keys"])
            self.intents[batch] = keys
            outside = sorted(set(record.get("rooms", {})) - keys)
            if outside:
                raise self.fail(line, f"an intent with a room for {outside[0]!r}, not in it")
        elif batch is not None:
            intended = self.intents.get(batch)
            if intended is None:
                raise self.fail(line, f"{an(kind)} record of batch {batch}, which has no intent")
            outside = sorted(set(record.get("runs", {})) - intended)
            if outside:
                raise self.fail(
                    line,
                    f"{an(kind)} record of batch {batch} with {outside[0]!r}, not in it",
                )
        return record


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every record of the journal at `path`, checked against `RECORDS` and the records
    before it; the first is the start record.

    A last line cut short by a crash (no final newline, or not JSON) is ignored; any other
    damaged line raises JournalError, naming the file and the line.
    """
    checker = _Checker(path)
    read = False
    for number, raw, last in _lines(path):
        value, problem = parse_line(raw)
        if last and (problem is not None or not raw.endswith(b"\n")):
            break
        if problem is not None:
            raise checker.fail(number, problem)
        read = True
        yield checker.check(number, value)
    if not read:
        raise checker.fail(1, "no start record")


def replay(path: Path) -> Replay:
    """The journal at `path` read back (JournalError when it is damaged)."""
    records = read_records(path)
    start = next(records)
    state = Replay(start, {key: RunState(key) for key in start["keys"]})
    intents: dict[int, list[str]] = {}
    for record in records:
        kind = record["type"]
        if kind == "intent":
            batch = record["batch"]
            state.batches = max(state.batches, batch)
            intents[batch] = record["keys"]
            for key in record["keys"]:
                run = state.runs[key]
                run.batch, run.unknown, run.error = batch, None, None
                run.room = record.get("rooms", {}).get(key)
                run.released = False
        elif kind == "submitted":
            for key, run_id in record["runs"].items():
                run = state.runs[key]
                run.run_id, run.result_id = run_id, record["result_id"]
        elif kind in ("not_sent", "rejected", "unknown"):
            keys = record["keys"] if "keys" in record else intents[record["batch"]]
            for key in keys:
                run = state.runs[key]
                if kind == "not_sent":
                    run.batch = None
                elif kind == "rejected":
                    run.error = record["reason"]
                else:
                    run.unknown = record["reason"]
        elif kind == "final":
            state.runs[record["key"]].final = record
        elif kind == "released":
            state.runs[record["key"]].released = True
    return state
