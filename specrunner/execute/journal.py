"""The run journal: one JSON line per event, written in order by a thread of its own.

Before a POST the journal holds its intent (which runs, which rooms); after it, the result
and run ids, or why it failed. So after a crash, `kill -9` or Ctrl-C the journal tells,
for every planned run, whether it was never sent (safe to send), may have been sent
(`unknown`: never sent again), exists (poll it), or is final. It never holds a secret:
no token, key or payload.

`Journal.write` only queues a record: a writer thread appends what is queued and fsyncs
once per batch, so the event loop never waits for the disk. Where a record must be on disk
before the next step (an intent before its POST), await `Journal.durable()`.

Reading it back is strict: every record is checked against `RECORDS` (and its run keys
against the start record's), and a damaged line is a `JournalError` naming the file and
the line. Only the last line may be cut short (a crash while it was written): it is
ignored, and cut off when the journal is opened again to append.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import stat
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from specrunner.errors import UsageError
from specrunner.models import Outcome

JOURNAL = "journal.jsonl"

_DAMAGED = "the journal is damaged; --resume cannot tell which runs were sent: start a new run"


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
        and isinstance(value.get("url"), str)
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
    'an object of run keys to rooms ({"source": string, "url": string, "handle": ...})',
    lambda v: isinstance(v, dict) and all(_is_room(room) for room in v.values()),
    list,
)
OUTCOME = FieldType(
    "an outcome (" + ", ".join(o.value for o in Outcome) + ")",
    lambda v: isinstance(v, str) and v in {o.value for o in Outcome},
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
                return f'{_a(kind)} record without "{name}" ({field_type.what})'
        elif not field_type.test(record[name]):
            return (
                f'{_a(kind)} record whose "{name}" is {_json_type(record[name])}, '
                f"not {field_type.what}"
            )
    if spec.one_of and sum(name in record for name in spec.one_of) != 1:
        return f"{_a(kind)} record needs exactly one of " + " or ".join(
            f'"{name}"' for name in spec.one_of
        )
    return None


def _a(kind: str) -> str:
    """The kind of record with its article: "an intent", "a final"."""
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _json_type(value: Any) -> str:
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


# -- writing


Fsync = Callable[[int], None]


class Journal:
    """The journal of a run directory, appended to by a writer thread of its own.

    `write` queues a record and returns at once; the thread appends the queued records in
    the order they were written and fsyncs once per batch. `durable()` (in an event loop)
    or `sync()` (outside one) waits until every record written before it is on disk;
    `close()` writes what is left and stops the thread. A failure to write (disk full,
    EIO) is raised, as OSError, by the next `write`, `durable`, `sync` or `close`.
    """

    def __init__(
        self, path: Path, *, file: IO[bytes] | None = None, fsync: Fsync = os.fsync
    ) -> None:
        """Open `path` to append to (or write to `file`, for tests) and start the writer
        thread. A last line cut short by a crash (which `read_records` ignores) is cut off
        first, so that new records do not follow it on the same line."""
        self.path = path
        self._sync_dir = False
        if file is None:
            self._sync_dir = not path.exists()
            _cut_torn_tail(path)
            file = path.open("ab")
        self._file = file
        self._fsync = fsync
        self._cond = threading.Condition()
        self._queue: list[bytes] = []
        self._queued = 0  # records written (queued) so far
        self._done = 0  # of them, written to the file and fsynced
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._error: BaseException | None = None
        self._reported = False
        self._closing = False
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run, name=f"journal writer ({path})", daemon=True
        )
        self._thread.start()
        _open.add(self)

    def write(self, kind: str, **fields: Any) -> None:
        """Queue the record `{"type": kind, **fields}` and return at once.

        It is serialised now: a value JSON cannot hold raises TypeError here, and a record
        the journal would refuse to read back raises ValueError. A write error of the
        thread is raised here (OSError); ValueError after `close()`.
        """
        record = {"type": kind, **fields}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        problem = record_problem(record)
        if problem is not None:
            raise ValueError(f"the journal refuses {problem}")
        data = line.encode("utf-8")
        with self._cond:
            self._raise_error()
            if self._closing:
                raise ValueError(f"the journal {self.path} is closed")
            self._queue.append(data)
            self._queued += 1
            self._cond.notify_all()

    async def durable(self) -> None:
        """Return once every record written before this call is written and fsynced.

        Raises the writer thread's error (OSError), if it has one. Any number of
        coroutines may wait at once.
        """
        loop = asyncio.get_running_loop()
        with self._cond:
            self._raise_error()
            target = self._queued
            if self._done >= target:
                return
            future: asyncio.Future[None] = loop.create_future()
            waiter = (target, loop, future)
            self._waiters.append(waiter)
            if self._stopped:  # nothing will come to wake it
                self._waiters.remove(waiter)
                self._raise_stopped()
        try:
            await future
        except asyncio.CancelledError:
            with self._cond, contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            raise
        with self._cond:
            if self._done < target:
                self._raise_error()
                self._raise_stopped()

    def sync(self) -> None:
        """Block until every record written before this call is written and fsynced: the
        equivalent of `durable()` for code outside an event loop."""
        with self._cond:
            self._raise_error()
            target = self._queued
            while self._done < target:
                if self._error is not None:
                    self._raise_error()
                if self._stopped or not self._thread.is_alive():
                    self._raise_stopped()
                self._cond.wait(timeout=1.0)

    def close(self) -> None:
        """Write and fsync what is queued, stop the thread and close the file.

        Idempotent, and safe when the thread has died: the thread's error is raised
        (OSError) unless an earlier call raised it already.
        """
        with self._cond:
            first = not self._closing
            self._closing = True
            self._cond.notify_all()
        if first:
            _open.discard(self)
            self._thread.join()
            try:
                self._file.close()
            except Exception as exc:
                with self._cond:
                    if self._error is None:
                        self._error = exc
        with self._cond:
            if not self._reported:
                self._raise_error()

    # -- the writer thread

    def _run(self) -> None:
        try:
            if self._sync_dir:
                _fsync_directory(self.path.parent, self._fsync)
            while True:
                with self._cond:
                    while not self._queue and not self._closing:
                        self._cond.wait()
                    if not self._queue:
                        return
                    batch, self._queue = self._queue, []
                    upto = self._queued
                self._file.write(b"".join(batch))
                self._file.flush()
                self._fsync(self._file.fileno())
                with self._cond:
                    self._done = upto
                    self._wake(everyone=False)
        except BaseException as exc:
            with self._cond:
                self._error = exc
                self._queue.clear()
        finally:
            with self._cond:
                self._stopped = True
                self._wake(everyone=True)

    def _wake(self, *, everyone: bool) -> None:
        """Wake the waiters whose records are on disk (all of them with `everyone`);
        called with the lock held."""
        self._cond.notify_all()
        waiting = []
        for target, loop, future in self._waiters:
            if everyone or target <= self._done:
                with contextlib.suppress(RuntimeError):  # its loop is closed: none waits
                    loop.call_soon_threadsafe(_settle, future)
            else:
                waiting.append((target, loop, future))
        self._waiters = waiting

    def _raise_error(self) -> None:
        """Raise the writer thread's error as OSError, if it has one; with the lock held."""
        error = self._error
        if error is None:
            return
        self._reported = True
        if isinstance(error, OSError) and error.errno is not None:
            raise OSError(
                error.errno, f"cannot write the journal: {error.strerror}", str(self.path)
            ) from error
        raise OSError(f"cannot write the journal {self.path}: {error!r}") from error

    def _raise_stopped(self) -> None:
        raise OSError(f"the journal {self.path} stopped before its records were written")


_open: weakref.WeakSet[Journal] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """A last net: at exit, write what journals not closed still hold (their errors can
    no longer be reported)."""
    for journal in list(_open):
        with contextlib.suppress(Exception):
            journal.close()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _fsync_directory(directory: Path, fsync: Fsync) -> None:
    """Make a new file's name durable too (where a directory can be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fsync(descriptor)
    finally:
        os.close(descriptor)


def _cut_torn_tail(path: Path) -> None:
    """Cut off the last line of `path` when `read_records` ignores it (cut short by a
    crash: no final newline, or not JSON), so that records appended now start a line."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return
    except FileNotFoundError:
        return
    with path.open("r+b") as file:
        size = file.seek(0, os.SEEK_END)
        if size == 0:
            return
        start, last = _last_line(file, size)
        if last.endswith(b"\n") and _parse(last)[1] is None:
            return
        file.truncate(start)


def _last_line(file: IO[bytes], size: int) -> tuple[int, bytes]:
    """Where the last line of `file` starts, and the line."""
    position, tail = size, b""
    while True:
        step = min(1 << 16, position)
        position -= step
        file.seek(position)
        tail = file.read(step) + tail
        cut = tail.rfind(b"\n", 0, len(tail) - 1)
        if cut >= 0:
            return position + cut + 1, tail[cut + 1 :]
        if position == 0:
            return 0, tail


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


@dataclass(slots=True)
class Replay:
    """The journal read back: the run's start record and each run's last known state."""

    start: Mapping[str, Any]
    runs: dict[str, RunState] = field(default_factory=dict)
    batches: int = 0


def _parse(raw: bytes) -> tuple[Any, str | None]:
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
        return JournalError(f"{self.path}:{line}: {problem} ({_DAMAGED})")

    def check(self, line: int, record: Any) -> dict[str, Any]:
        if not isinstance(record, dict):
            raise self.fail(line, f"not a JSON object ({_json_type(record)})")
        problem = record_problem(record)
        if problem is not None:
            raise self.fail(line, problem)
        kind = record["type"]
        if self.keys is None:
            if kind != "start":
                raise self.fail(line, f"{_a(kind)} record where the start record should be")
            self.keys = frozenset(record["keys"])
            return record
        if kind == "start":
            raise self.fail(line, "a second start record")
        spec = RECORDS[kind]
        for name, (field_type, _) in spec.fields.items():
            for key in field_type.runs(record[name]) if name in record else ():
                if key not in self.keys:
                    raise self.fail(
                        line, f'{_a(kind)} record whose "{name}" names {key!r}, not a planned run'
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
                raise self.fail(line, f"{_a(kind)} record of batch {batch}, which has no intent")
            outside = sorted(set(record.get("runs", {})) - intended)
            if outside:
                raise self.fail(
                    line, f"{_a(kind)} record of batch {batch} with {outside[0]!r}, not in it"
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
        value, problem = _parse(raw)
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
