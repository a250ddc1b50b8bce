"""The run journal: one JSON line per event, written in order by a thread of its own.

Before a POST the journal holds its intent (which runs, which rooms); after it, the result
and run ids, or why it failed. So after a crash, `kill -9` or Ctrl-C the journal tells,
for every planned run, whether it was never sent (safe to send), may have been sent
(`unknown`: never sent again), exists (poll it), or is final. It never holds a secret:
no token, key, room URL or payload. A room is kept as its source's name and the handle the
source gives it back by; the reasons and errors it quotes pass the run's secrets first.

`Journal.write` only queues a record: a writer thread appends what is queued and fsyncs
once per batch, so the event loop never waits for the disk. Where a record must be on disk
before the next step (an intent before its POST), await `Journal.durable()`.

Reading it back (replay.py) is strict: a damaged line is an error, never skipped, and
only a last line cut short by a crash is ignored; it is cut off when the journal is
opened again to append.
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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from specrunner.execute.journal_records import parse_line, record_problem
from specrunner.masking import SecretTracker

# -- writing


Fsync = Callable[[int], None]

_FREE_TEXT = ("reason", "error")
"""The fields of records that quote what others said (a server's answer, a room source's
failure): the only ones that could carry a secret, so the ones redacted."""
_LINES = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""`json.dumps(record, ensure_ascii=False, separators=(",", ":"))`, made once: a large
suite writes two records per run."""
_FLAT = frozenset({str, int, bool, type(None)})


def _flat_line(record: Mapping[str, Any]) -> bytes | None:
    """The record's line as `_LINES` writes it, in UTF-8, when every field is a string,
    an integer, a boolean or null (a run's "final" and "released" records, most of a
    large suite's), written by orjson in a tenth of the time; else None. For such values
    orjson writes the very bytes json does (the same escapes for every character, the
    same integers); an integer beyond 64 bits or a lone surrogate, which orjson refuses,
    is left to json."""
    if not all(type(value) in _FLAT for value in record.values()):
        return None
    try:
        return orjson.dumps(record) + b"\n"
    except orjson.JSONEncodeError:
        return None


class Journal:
    """The journal of a run directory, appended to by a writer thread of its own.

    `write` queues a record and returns at once; the thread appends the queued records in
    the order they were written and fsyncs once per batch. `durable()` (in an event loop)
    or `sync()` (outside one) waits until every record written before it is on disk;
    `close()` writes what is left and stops the thread. A failure to write (disk full,
    EIO) is raised, as OSError, by the next `write`, `durable`, `sync` or `close`.
    """

    def __init__(
        self,
        path: Path,
        *,
        file: IO[bytes] | None = None,
        fsync: Fsync = os.fsync,
        secrets: SecretTracker | None = None,
    ) -> None:
        """Open `path` to append to (or write to `file`, for tests) and start the writer
        thread. A last line cut short by a crash (which `read_records` ignores) is cut off
        first, so that new records do not follow it on the same line. The free text of
        records (`reason`, `error`) is redacted with `secrets` as they stand when written."""
        self.path = path
        self._secrets = secrets
        self._sync_dir = False
        if file is None:
            self._sync_dir = not path.exists()
            _cut_torn_tail(path)
            file = path.open("ab")
        self._file = file
        self._fsync = fsync
        self._cond = threading.Condition()
        self._queue: list[bytes] = []
        self._idle = False  # the writer thread waits for records: a write must wake it
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
        if self._secrets is not None:
            hidden = self._secrets.secrets
            for name in _FREE_TEXT:
                if isinstance(record.get(name), str):
                    record[name] = hidden.redact_text(record[name])
        flat = _flat_line(record)
        line = _LINES.encode(record) + "\n" if flat is None else ""
        problem = record_problem(record)
        if problem is not None:
            raise ValueError(f"the journal refuses {problem}")
        data = line.encode("utf-8") if flat is None else flat
        with self._cond:
            self._raise_error()
            if self._closing:
                raise ValueError(f"the journal {self.path} is closed")
            self._queue.append(data)
            self._queued += 1
            if self._idle:  # else it is writing, and takes this batch when done
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
                        self._idle = True
                        self._cond.wait()
                        self._idle = False
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
        if last.endswith(b"\n") and parse_line(last)[1] is None:
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
