"""The history in a local SQLite file (the standard library's sqlite3).

The schema carries its version in `PRAGMA user_version`; `MIGRATIONS[i]` takes a database
from version i to i + 1, inside the write transaction that checks the version, so that two
processes opening a new file at once migrate it once. The file is in WAL mode (readers do
not block the writer) and every connection waits up to `BUSY_SECONDS` for a lock, so that
two shards finishing at once on one machine both get recorded.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from specrunner.history.entries import CellEntry, Entry, Source
from specrunner.history.store import HistoryStore, HistoryUnavailable, Recorded, SuiteRecords

BUSY_SECONDS: Final = 10.0

MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE reports (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        suite TEXT NOT NULL,
        suite_version INTEGER NOT NULL,
        suite_file TEXT NOT NULL,
        environment TEXT NOT NULL,
        selection TEXT NOT NULL,
        shard TEXT,
        partial INTEGER NOT NULL,
        git_commit TEXT,
        started_at TEXT,
        finished_at TEXT NOT NULL,
        specrunner TEXT NOT NULL,
        passed INTEGER NOT NULL,
        cells_passed INTEGER NOT NULL,
        flaky_cells INTEGER NOT NULL,
        runs INTEGER NOT NULL,
        pass_rate REAL,
        duration_median REAL,
        duration_p95 REAL
    );
    CREATE INDEX reports_by_suite ON reports (suite, environment, finished_at, seq);
    CREATE TABLE cells (
        report INTEGER NOT NULL REFERENCES reports (seq) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        cell TEXT NOT NULL,
        scenario TEXT NOT NULL,
        label TEXT NOT NULL,
        passed INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        error INTEGER NOT NULL,
        unknown INTEGER NOT NULL,
        not_run INTEGER NOT NULL,
        pass_rate REAL,
        met INTEGER NOT NULL,
        flaky INTEGER NOT NULL,
        duration_median REAL,
        duration_p95 REAL,
        PRIMARY KEY (report, position)
    ) WITHOUT ROWID;
    """,
    # Runs a sequential cell never sent, once its verdict was decided (not in its runs).
    "ALTER TABLE cells ADD COLUMN not_needed INTEGER NOT NULL DEFAULT 0;",
)
VERSION: Final = len(MIGRATIONS)

_REPORT_COLUMNS: Final = (
    "seq, id, source, recorded_at, suite, suite_version, suite_file, environment, "
    "selection, shard, partial, git_commit, started_at, finished_at, specrunner, passed, "
    "cells_passed, flaky_cells, runs, pass_rate, duration_median, duration_p95"
)
_CELL_COLUMNS: Final = (
    "report, cell, scenario, label, passed, failed, error, unknown, not_run, pass_rate, "
    "met, flaky, duration_median, duration_p95, not_needed"
)


class SqliteHistory(HistoryStore):
    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        if not create and not path.is_file():
            raise HistoryUnavailable(f"{path}: no history here (nothing was recorded yet)")
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as error:
            raise self._unavailable(error) from None
        try:
            self._prepare()
        except BaseException:
            self._db.close()
            raise

    def _unavailable(self, error: BaseException) -> HistoryUnavailable:
        why = getattr(error, "strerror", None) or str(error) or type(error).__name__
        return HistoryUnavailable(f"{self.path}: cannot use the history ({why})")

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise self._unavailable(error) from None

    def _prepare(self) -> None:
        # Two processes making a new file at once: while one switches it to WAL, SQLite
        # may answer the other "locked" without waiting (its busy handler is not called
        # there). So the whole setup is tried again, for as long as a lock is waited for.
        deadline = time.monotonic() + BUSY_SECONDS
        pause = 0.01
        while True:
            try:
                self._set_up()
                return
            except sqlite3.OperationalError as error:
                if not _locked(error) or time.monotonic() + pause > deadline:
                    raise self._unavailable(error) from None
            except sqlite3.Error as error:
                raise self._unavailable(error) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

    def _set_up(self) -> None:
        self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
        self._db.execute("PRAGMA foreign_keys = ON")
        version = self._version()
        if version > VERSION:
            raise HistoryUnavailable(
                f"{self.path}: the history was written by a newer specrunner (schema "
                f"version {version}, this one knows up to {VERSION}): upgrade specrunner"
            )
        if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        if version < VERSION:
            self._migrate()

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self._transaction():
            # Read again under the write lock: another process may have migrated it.
            for version in range(self._version(), VERSION):
                for statement in _statements(MIGRATIONS[version]):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def record(self, entry: Entry, *, source: Source, recorded_at: str) -> bool:
        with self._guarded(), self._transaction():
            added = self._db.execute(
                f"INSERT OR IGNORE INTO reports ({_REPORT_COLUMNS}) VALUES (NULL{', ?' * 21})",
                (
                    entry.id,
                    source.value,
                    recorded_at,
                    entry.suite,
                    entry.suite_version,
                    entry.suite_file,
                    entry.environment or "",
                    entry.selection,
                    entry.shard,
                    entry.partial,
                    entry.git_commit,
                    entry.started_at,
                    entry.finished_at,
                    entry.specrunner,
                    entry.passed,
                    entry.cells_passed,
                    entry.flaky_cells,
                    entry.runs,
                    entry.pass_rate,
                    entry.duration_median,
                    entry.duration_p95,
                ),
            )
            if added.rowcount == 0:
                return False
            seq = added.lastrowid
            self._db.executemany(
                f"INSERT INTO cells (position, {_CELL_COLUMNS}) VALUES (?{', ?' * 15})",
                [
                    (
                        position,
                        seq,
                        cell.cell,
                        cell.scenario,
                        cell.label,
                        *cell.outcomes[:5],
                        cell.pass_rate,
                        cell.met,
                        cell.flaky,
                        cell.duration_median,
                        cell.duration_p95,
                        cell.outcomes[5],
                    )
                    for position, cell in enumerate(entry.cells)
                ],
            )
            return True

    def suites(self) -> list[SuiteRecords]:
        with self._guarded():
            rows = self._db.execute(
                "SELECT suite, environment, count(*), "
                "sum(shard IS NULL AND partial = 0), max(finished_at) "
                "FROM reports GROUP BY suite, environment ORDER BY max(finished_at) DESC"
            ).fetchall()
        return [SuiteRecords(s, e or None, n, int(w), last) for s, e, n, w, last in rows]

    def reports(
        self,
        suite: str,
        environment: str | None,
        *,
        last: int,
        until: str | None = None,
        whole: bool = True,
    ) -> list[Recorded]:
        where = "suite = ? AND environment = ?"
        values: list[Any] = [suite, environment or ""]
        if whole:
            where += " AND shard IS NULL AND partial = 0"
        if until is not None:
            where += " AND finished_at <= ?"
            values.append(until)
        with self._guarded():
            rows = self._db.execute(
                f"SELECT {_REPORT_COLUMNS} FROM reports WHERE {where} "
                "ORDER BY finished_at DESC, seq DESC LIMIT ?",
                (*values, max(last, 0)),
            ).fetchall()
            cells = self._cells([row[0] for row in rows])
        return [_recorded(row, cells.get(row[0], ())) for row in rows]

    def _cells(self, seqs: Sequence[int]) -> dict[int, list[CellEntry]]:
        found: dict[int, list[CellEntry]] = {}
        # A few hundred at a time: SQLite limits the variables of one statement.
        for start in range(0, len(seqs), 500):
            chunk = seqs[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._db.execute(
                f"SELECT {_CELL_COLUMNS} FROM cells WHERE report IN ({marks}) "
                "ORDER BY report, position",
                chunk,
            ):
                # Positional: a long window reads 100,000 of them.
                found.setdefault(row[0], []).append(
                    CellEntry(
                        row[1],
                        row[2],
                        row[3],
                        (*row[4:9], row[14]),
                        row[9],
                        bool(row[10]),
                        bool(row[11]),
                        row[12],
                        row[13],
                    )
                )
        return found

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteHistory:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _locked(error: sqlite3.OperationalError) -> bool:
    text = str(error)
    return "locked" in text or "busy" in text


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def _recorded(row: Sequence[Any], cells: Sequence[CellEntry]) -> Recorded:
    (seq, id_, source, recorded_at, suite, version, file, environment, selection, shard) = row[:10]
    entry = Entry(
        id=id_,
        suite=suite,
        suite_version=version,
        suite_file=file,
        environment=environment or None,
        selection=selection,
        shard=shard,
        partial=bool(row[10]),
        git_commit=row[11],
        started_at=row[12],
        finished_at=row[13],
        specrunner=row[14],
        passed=bool(row[15]),
        cells_passed=row[16],
        flaky_cells=row[17],
        runs=row[18],
        pass_rate=row[19],
        duration_median=row[20],
        duration_p95=row[21],
        cells=tuple(cells),
    )
    return Recorded(seq=seq, source=Source(source), recorded_at=recorded_at, entry=entry)
