"""The journal: written in order by its own thread and durable when awaited; read back
strictly, it says for every planned run what may be done with it."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specrunner.errors import ExitCode, UsageError
from specrunner.execute.journal import Journal
from specrunner.execute.journal_records import RECORDS, JournalError
from specrunner.execute.replay import read_records, replay

JOURNALS = Path(__file__).parent / "journals"
WAIT = 10.0  # seconds: the longest any test waits for the writer thread
START = {"type": "start", "keys": ["a", "b", "c", "d", "e"], "request": {}}


def journal(tmp_path: Path, *records: tuple[str, dict[str, object]]) -> Path:
    path = tmp_path / "journal.jsonl"
    writer = Journal(path)
    writer.write("start", keys=["a", "b", "c", "d", "e"], request={})
    for kind, fields in records:
        writer.write(kind, **fields)
    writer.close()
    return path


def raw_journal(tmp_path: Path, *lines: dict[str, Any] | str | bytes) -> Path:
    """A journal of these lines: records as JSON, text or bytes as they are (plus a
    newline unless they end with one)."""
    path = tmp_path / "journal.jsonl"
    data = b""
    for line in lines:
        raw = (
            line
            if isinstance(line, bytes)
            else (line if isinstance(line, str) else json.dumps(line)).encode()
        )
        data += raw if raw.endswith(b"\n") else raw + b"\n"
    path.write_bytes(data)
    return path


# -- reading back


def test_each_state_is_read_back(tmp_path: Path) -> None:
    path = journal(
        tmp_path,
        ("intent", {"batch": 1, "keys": ["a", "b"], "rooms": {"a": {"source": "s", "url": "u"}}}),
        ("submitted", {"batch": 1, "result_id": 9, "runs": {"a": 101, "b": 102}}),
        ("final", {"key": "a", "outcome": "passed", "status": "completed"}),
        ("intent", {"batch": 2, "keys": ["c"]}),
        ("unknown", {"batch": 2, "reason": "dropped"}),
        ("intent", {"batch": 3, "keys": ["d"]}),
    )
    state = replay(path)
    assert state.batches == 3
    a, b, c, d, e = (state.runs[k] for k in "abcde")
    assert a.final is not None and a.final["outcome"] == "passed"
    assert (b.run_id, b.result_id, b.final) == (102, 9, None)
    assert c.unknown == "dropped" and c.run_id is None
    assert d.batch == 3 and d.run_id is None and d.unknown is None  # sent, answer unknown
    assert e.batch is None and e.run_id is None  # never sent
    assert a.room == {"source": "s", "url": "u"}


def test_runs_not_sent_may_be_sent_again(tmp_path: Path) -> None:
    path = journal(
        tmp_path,
        ("intent", {"batch": 1, "keys": ["a", "b"]}),
        ("not_sent", {"batch": 1, "reason": "429"}),
        ("not_sent", {"keys": ["c"], "reason": "no room"}),
    )
    state = replay(path)
    assert state.runs["a"].batch is None and state.runs["b"].batch is None
    assert state.runs["c"].batch is None


def test_a_journal_written_before_the_fingerprint_still_reads() -> None:
    state = replay(JOURNALS / "older.jsonl")
    assert "fingerprint" not in state.start
    assert state.batches == 2
    assert state.runs["a"].released and state.runs["a"].final is not None
    assert state.runs["b"].run_id == 102 and state.runs["b"].room is not None
    assert state.runs["c"].batch == 2 and state.runs["c"].run_id is None


# -- a crash mid-write: only the last line


def test_a_last_line_cut_short_by_a_crash_is_ignored(tmp_path: Path) -> None:
    path = journal(tmp_path, ("intent", {"batch": 1, "keys": ["a"]}))
    with path.open("a") as file:
        file.write('{"type":"submitted","batch":1,"result_id":9,"ru')
    state = replay(path)
    assert state.runs["a"].batch == 1
    assert state.runs["a"].run_id is None


@pytest.mark.parametrize("name", ["torn-tail.jsonl", "nul-tail.jsonl"])
def test_a_damaged_last_line_is_ignored(name: str) -> None:
    expected = replay(JOURNALS / "older.jsonl")
    assert replay(JOURNALS / name) == expected


def test_a_complete_last_line_without_its_newline_is_ignored(tmp_path: Path) -> None:
    path = raw_journal(tmp_path, START, {"type": "intent", "batch": 1, "keys": ["a"]})
    path.write_bytes(path.read_bytes() + b'{"type":"released","key":"a"}')
    assert [r["type"] for r in read_records(path)] == ["start", "intent"]


def test_a_last_line_that_is_json_but_wrong_is_an_error(tmp_path: Path) -> None:
    path = raw_journal(tmp_path, START, {"type": "final", "key": "a"})
    with pytest.raises(JournalError, match=r":2: a final record without \"outcome\""):
        replay(path)


def test_appending_after_a_crash_cuts_the_torn_line_off_first(tmp_path: Path) -> None:
    path = journal(tmp_path, ("intent", {"batch": 1, "keys": ["a"]}))
    with path.open("a") as file:
        file.write('{"type":"submitted","batch":1,"resu')
    writer = Journal(path)  # --resume appends to it
    writer.write("unknown", keys=["a"], reason="cut off")
    writer.close()
    assert [r["type"] for r in read_records(path)] == ["start", "intent", "unknown"]
    assert replay(path).runs["a"].unknown == "cut off"


def test_appending_after_a_crash_cuts_an_unreadable_last_line_off(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    shutil.copy(JOURNALS / "nul-tail.jsonl", path)
    writer = Journal(path)
    writer.write("released", key="b")
    writer.close()
    assert b"\0" not in path.read_bytes()
    assert replay(path).runs["b"].released


def test_appending_keeps_a_damaged_line_before_the_last_one(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    shutil.copy(JOURNALS / "nul-middle.jsonl", path)
    Journal(path).close()
    assert path.read_bytes() == (JOURNALS / "nul-middle.jsonl").read_bytes()


# -- damage anywhere else is an error


def test_damage_before_the_last_line_is_an_error_naming_file_and_line() -> None:
    path = JOURNALS / "nul-middle.jsonl"
    with pytest.raises(JournalError) as caught:
        replay(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:4: a NUL byte")
    assert "(the journal is damaged;" in message
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == ExitCode.INVALID


def test_a_line_that_is_not_an_object_is_an_error() -> None:
    path = JOURNALS / "not-an-object.jsonl"
    with pytest.raises(JournalError, match=r"not-an-object\.jsonl:3: not a JSON object \(a list"):
        replay(path)


INTENT = {"type": "intent", "batch": 1, "keys": ["a", "b"]}


@pytest.mark.parametrize(
    ("lines", "line", "problem"),
    [
        ([START, "{not json", INTENT], 2, "not JSON"),
        ([START, "", INTENT], 2, "a blank line"),
        ([START, b'{"type":"intent",\x00"batch":1}', INTENT], 2, "a NUL byte"),
        ([START, b'{"type":"intent","batch":1,"keys":["\xff"]}', INTENT], 2, "not UTF-8"),
        ([START, "7", INTENT], 2, "not a JSON object (an integer)"),
        ([START, {"kind": "intent"}, INTENT], 2, 'no "type"'),
        ([START, {"type": "retried", "batch": 1}, INTENT], 2, "an unknown type of record"),
        (
            [START, {"type": "intent", "batch": "1", "keys": ["a"]}, INTENT],
            2,
            'an intent record whose "batch" is a string, not a batch number',
        ),
        (
            [START, {"type": "intent", "batch": True, "keys": ["a"]}, INTENT],
            2,
            '"batch" is true or false',
        ),
        ([START, {"type": "intent", "keys": ["a"]}, INTENT], 2, 'without "batch"'),
        ([START, {"type": "intent", "batch": 1, "keys": []}, INTENT], 2, "non-empty list"),
        ([START, {"type": "intent", "batch": 1, "keys": ["a", "a"]}, INTENT], 2, "distinct"),
        (
            [START, INTENT, {"type": "submitted", "batch": 1, "runs": {"a": 1}}, INTENT],
            3,
            'a submitted record without "result_id"',
        ),
        (
            [START, INTENT, {"type": "submitted", "batch": 1, "result_id": 9, "runs": {"a": "1"}}],
            3,
            "integer run ids",
        ),
        (
            [START, INTENT, {"type": "final", "key": "a", "outcome": "great"}, INTENT],
            3,
            '"outcome" is a string, not an outcome (passed, failed',
        ),
        (
            [START, INTENT, {"type": "final", "key": "a", "outcome": "passed", "run_id": 1.5}],
            3,
            '"run_id" is a number, not an integer or null',
        ),
        ([START, INTENT, {"type": "released", "key": 3}, INTENT], 3, '"key" is an integer'),
        (
            [START, INTENT, {"type": "not_sent", "reason": "429"}, INTENT],
            3,
            'exactly one of "batch" or "keys"',
        ),
        (
            [START, INTENT, {"type": "unknown", "batch": 1, "keys": ["a"], "reason": "x"}],
            3,
            'exactly one of "batch" or "keys"',
        ),
        (
            [START, INTENT, {"type": "rejected", "batch": 1, "reason": 400}, INTENT],
            3,
            '"reason" is an integer, not a string',
        ),
        (
            [START, {"type": "intent", "batch": 1, "keys": ["a", "zz"]}, INTENT],
            2,
            "names 'zz', not a planned run",
        ),
        ([START, INTENT, {"type": "released", "key": "zz"}, INTENT], 3, "'zz', not a planned"),
        (
            [START, {"type": "intent", "batch": 1, "keys": ["a"], "rooms": {"b": {}}}, INTENT],
            2,
            '"rooms" is an object, not an object of run keys to rooms',
        ),
        (
            [
                START,
                {
                    "type": "intent",
                    "batch": 1,
                    "keys": ["a"],
                    "rooms": {"b": {"source": "s", "url": "u"}},
                },
                INTENT,
            ],
            2,
            "an intent with a room for 'b', not in it",
        ),
        ([START, INTENT, INTENT, {"type": "released", "key": "a"}], 3, "a second intent"),
        (
            [START, {"type": "submitted", "batch": 4, "result_id": 9, "runs": {}}, INTENT],
            2,
            "batch 4, which has no intent",
        ),
        (
            [START, INTENT, {"type": "submitted", "batch": 1, "result_id": 9, "runs": {"c": 3}}],
            3,
            "a submitted record of batch 1 with 'c', not in it",
        ),
        (
            [START, {"type": "unknown", "batch": 2, "reason": "x"}, INTENT],
            2,
            "batch 2, which has no intent",
        ),
        ([INTENT, START, INTENT], 1, "an intent record where the start record should be"),
        ([START, START, INTENT], 2, "a second start record"),
        (
            [{"type": "start", "keys": "abc", "request": {}}, INTENT],
            1,
            '"keys" is a string, not a list of distinct strings',
        ),
        ([{"type": "start", "keys": ["a"]}, INTENT], 1, 'a start record without "request"'),
        (
            [{**START, "fingerprint": {"agent": 1}}, INTENT],
            1,
            '"fingerprint" is an object, not an object of strings',
        ),
    ],
)
def test_a_damaged_line_is_an_error_never_skipped(
    tmp_path: Path, lines: list[dict[str, Any] | str | bytes], line: int, problem: str
) -> None:
    path = raw_journal(tmp_path, *lines)
    with pytest.raises(JournalError) as caught:
        replay(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert problem in message, message
    assert message.endswith("start a new run)"), message


@pytest.mark.parametrize("content", [b"", b'{"type":"start","keys":[],"req'])
def test_a_journal_without_a_start_record_is_an_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(content)
    with pytest.raises(JournalError, match=r"journal\.jsonl:1: no start record"):
        replay(path)


def test_fields_the_table_does_not_know_are_allowed(tmp_path: Path) -> None:
    path = raw_journal(tmp_path, {**START, "note": 1}, {**INTENT, "why": "x"}, INTENT)
    with pytest.raises(JournalError, match=":3: a second intent of batch 1"):
        replay(path)
    path = raw_journal(tmp_path, {**START, "note": 1}, {**INTENT, "why": "x"})
    assert replay(path).runs["a"].batch == 1


# -- writing: what it refuses


def test_every_kind_of_record_is_in_the_table() -> None:
    assert set(RECORDS) == {
        "start",
        "intent",
        "submitted",
        "not_sent",
        "rejected",
        "unknown",
        "final",
        "released",
    }


@pytest.mark.parametrize(
    ("kind", "fields", "error"),
    [
        ("intent", {"batch": "1", "keys": ["a"]}, ValueError),
        ("retried", {}, ValueError),
        ("final", {"key": "a"}, ValueError),
        ("final", {"key": "a", "outcome": "passed", "status": object()}, TypeError),
    ],
)
def test_a_record_it_could_not_read_back_is_refused_at_the_call(
    tmp_path: Path, kind: str, fields: dict[str, Any], error: type[Exception]
) -> None:
    writer = Journal(tmp_path / "journal.jsonl")
    try:
        writer.write("start", keys=["a"], request={})
        with pytest.raises(error):
            writer.write(kind, **fields)
    finally:
        writer.close()
    assert [r["type"] for r in read_records(tmp_path / "journal.jsonl")] == ["start"]


_FIELD_VALUES = st.one_of(
    st.text(),  # lone surrogates too: refused as json refuses them
    st.integers(min_value=-(2**70), max_value=2**70),  # beyond 64 bits too
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers() | st.floats(), max_size=2),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.text(max_size=5).filter(lambda k: k not in ("type", "key")), _FIELD_VALUES, max_size=4
    ),
    st.text(max_size=8),
)
def test_each_line_is_the_json_it_always_was(
    tmp_path: Path, extra: dict[str, Any], key: str
) -> None:
    """Flat records are written by orjson, others by json: every line is, byte for byte,
    `json.dumps(record, ensure_ascii=False, separators=(",", ":"))`, and whatever json
    cannot write in UTF-8 is refused at the call, as it always was."""
    path = tmp_path / f"journal-{os.getpid()}-{threading.get_ident()}.jsonl"
    path.unlink(missing_ok=True)
    writer = Journal(path)
    record = {"type": "released", "key": key, **extra}
    expected = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    try:
        try:
            wanted = expected.encode("utf-8")
        except UnicodeEncodeError:
            with pytest.raises(UnicodeEncodeError):
                writer.write("released", key=key, **extra)
            wanted = b""
        else:
            writer.write("released", key=key, **extra)
    finally:
        writer.close()
    assert path.read_bytes() == wanted


# -- writing: the thread, order and durability


class Recorder:
    """An fsync that records the file's size at each call and may be held back."""

    def __init__(self, fail: OSError | None = None) -> None:
        self.sizes: list[int] = []
        self.threads: set[int] = set()
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.fail = fail

    def __call__(self, descriptor: int) -> None:
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):  # the new file's directory
            os.fsync(descriptor)
            return
        self.threads.add(threading.get_ident())
        self.entered.set()
        assert self.release.wait(WAIT), "the test never released fsync"
        if self.fail is not None:
            raise self.fail
        os.fsync(descriptor)
        self.sizes.append(os.fstat(descriptor).st_size)

    def hold(self) -> None:
        self.release.clear()
        self.entered.clear()


def started(path: Path, fsync: Callable[[int], None]) -> Journal:
    writer = Journal(path, fsync=fsync)
    writer.write("start", keys=[f"k{i}" for i in range(1000)], request={})
    return writer


def test_records_are_written_in_the_order_of_the_calls(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    writer = started(path, Recorder())
    for i in range(1000):
        writer.write("released", key=f"k{i}")
    writer.close()
    keys = [r["key"] for r in read_records(path) if r["type"] == "released"]
    assert keys == [f"k{i}" for i in range(1000)]


def test_write_never_touches_the_disk_on_the_callers_thread(tmp_path: Path) -> None:
    writes: set[int] = set()

    class Watched(io.BytesIO):
        def write(self, data: Any) -> int:
            writes.add(threading.get_ident())
            return super().write(data)

        def fileno(self) -> int:
            return -1

    file = Watched()
    writer = Journal(tmp_path / "journal.jsonl", file=file, fsync=lambda descriptor: None)
    writer.write("start", keys=["a"], request={})
    writer.sync()
    writer.write("released", key="a")
    writer.close()
    assert writes and threading.get_ident() not in writes
    assert file.closed


def test_durable_returns_once_earlier_records_are_fsynced(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    fsync = Recorder()
    writer = started(path, fsync)

    async def scenario() -> None:
        await writer.durable()
        fsync.hold()
        writer.write("released", key="k1")
        waiting = asyncio.create_task(writer.durable())
        assert await asyncio.to_thread(fsync.entered.wait, WAIT)
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done(), "durable() returned before its record was fsynced"
        fsync.release.set()
        await asyncio.wait_for(waiting, WAIT)
        assert fsync.sizes[-1] == path.stat().st_size  # everything written is on disk

    try:
        asyncio.run(scenario())
    finally:
        writer.close()
    assert [r["type"] for r in read_records(path)] == ["start", "released"]


def test_the_thread_fsyncs_once_per_batch(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    fsync = Recorder()
    writer = started(path, fsync)
    writer.sync()
    fsync.hold()
    writer.write("released", key="k0")
    assert fsync.entered.wait(WAIT)  # the thread is in the fsync of the first batch
    for i in range(1, 500):
        writer.write("released", key=f"k{i}")
    fsync.release.set()
    writer.sync()
    writer.close()
    assert len(fsync.sizes) == 3  # start, k0, then the other 499 in one batch
    assert len(list(read_records(path))) == 501


def test_many_coroutines_may_wait_at_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    fsync = Recorder()
    writer = started(path, fsync)

    async def one(i: int) -> int:
        writer.write("released", key=f"k{i}")
        await writer.durable()
        return fsync.sizes[-1]

    async def scenario() -> None:
        await writer.durable()
        fsync.hold()
        waiting = [asyncio.create_task(one(i)) for i in range(50)]
        assert await asyncio.to_thread(fsync.entered.wait, WAIT)
        for _ in range(20):
            await asyncio.sleep(0)
        assert not any(task.done() for task in waiting)
        cancelled = asyncio.create_task(writer.durable())
        await asyncio.sleep(0)
        cancelled.cancel()  # one waiter giving up leaves the others waiting
        fsync.release.set()
        sizes = await asyncio.wait_for(asyncio.gather(*waiting), WAIT)
        assert all(size > 0 for size in sizes)
        assert cancelled.cancelled()

    try:
        asyncio.run(scenario())
    finally:
        writer.close()
    assert len(list(read_records(path))) == 51


def test_durable_with_nothing_written_returns_at_once(tmp_path: Path) -> None:
    writer = Journal(tmp_path / "journal.jsonl")
    try:
        asyncio.run(writer.durable())
        writer.sync()
    finally:
        writer.close()


def test_close_is_idempotent_and_writes_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    fsync = Recorder()
    writer = started(path, fsync)
    for i in range(100):
        writer.write("released", key=f"k{i}")
    writer.close()
    writer.close()
    assert fsync.sizes[-1] == path.stat().st_size
    assert len(list(read_records(path))) == 101
    with pytest.raises(ValueError, match="closed"):
        writer.write("released", key="k0")


def test_records_of_a_journal_left_open_are_written_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    program = (
        "import sys; from pathlib import Path; from specrunner.execute.journal import Journal; "
        "j = Journal(Path(sys.argv[1])); j.write('start', keys=['a'], request={}); "
        "[j.write('released', key='a') for _ in range(100)]"
    )
    subprocess.run([sys.executable, "-c", program, str(path)], check=True, timeout=60)
    assert len(list(read_records(path))) == 101


# -- writing: errors are never lost


def test_a_failed_fsync_is_raised_by_the_next_durable(tmp_path: Path) -> None:
    fsync = Recorder(OSError(errno.EIO, "Input/output error"))
    writer = Journal(tmp_path / "journal.jsonl", fsync=fsync)
    writer.write("start", keys=["a"], request={})
    with pytest.raises(OSError, match="cannot write the journal") as caught:
        asyncio.run(writer.durable())
    assert caught.value.errno == errno.EIO
    assert caught.value.filename == str(tmp_path / "journal.jsonl")
    with pytest.raises(OSError):  # and by every later call: nothing is written any more
        writer.write("released", key="a")
    with pytest.raises(OSError):
        writer.sync()
    writer.close()  # already reported: close is quiet, and stays idempotent
    writer.close()


def test_an_error_nobody_asked_about_is_raised_by_close(tmp_path: Path) -> None:
    fsync = Recorder(OSError(errno.ENOSPC, "No space left on device"))
    writer = Journal(tmp_path / "journal.jsonl", fsync=fsync)
    writer.write("start", keys=["a"], request={})
    with pytest.raises(OSError) as caught:
        writer.close()
    assert caught.value.errno == errno.ENOSPC
    writer.close()


def test_a_failed_fsync_wakes_every_waiter_with_the_error(tmp_path: Path) -> None:
    fsync = Recorder(OSError(errno.EIO, "Input/output error"))
    fsync.hold()
    writer = Journal(tmp_path / "journal.jsonl", fsync=fsync)

    async def scenario() -> list[BaseException | None]:
        writer.write("start", keys=["a"], request={})
        waiting = [asyncio.create_task(writer.durable()) for _ in range(5)]
        assert await asyncio.to_thread(fsync.entered.wait, WAIT)
        fsync.release.set()
        return await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), WAIT)

    try:
        outcomes = asyncio.run(scenario())
    finally:
        writer.close()  # the waiters were told: close does not raise it again
    assert all(isinstance(outcome, OSError) for outcome in outcomes)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_raised(tmp_path: Path) -> None:
    writer = Journal(Path("/dev/full"))
    writer.write("start", keys=["a"], request={})
    with pytest.raises(OSError) as caught:
        writer.sync()
    assert caught.value.errno == errno.ENOSPC
    writer.close()
