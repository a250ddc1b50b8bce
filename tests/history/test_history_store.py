"""The SQLite history: what it keeps of a report, duplicates, the window it reads back,
its schema version and migrations, and two processes writing at once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from historykit import at, record_all, report

from specrunner.history import sqlite as history_sqlite
from specrunner.history.entries import Source, entry_of, report_id
from specrunner.history.store import HistoryUnavailable, history_path, open_history
from specrunner.report.write import render_json


def test_a_recorded_report_reads_back_cell_by_cell(tmp_path: Path) -> None:
    made = report(
        [["passed", "failed", "passed"], ["error"]], commit="a" * 40, environment="staging"
    )
    with open_history(tmp_path / "h.sqlite") as store:
        assert store.record(entry_of(made), source=Source.RUN, recorded_at="now")
        [recorded] = store.reports("made", "staging", last=10)
    entry = recorded.entry
    assert entry == entry_of(made)
    assert recorded.source is Source.RUN and recorded.recorded_at == "now"
    first, second = entry.cells
    assert first.cell == "scenario-0000 [n=0]" and first.outcomes == (2, 1, 0, 0, 0, 0)
    assert first.pass_rate == pytest.approx(2 / 3) and not first.met and first.flaky
    assert first.duration_median == 60.0
    assert second.outcomes == (0, 0, 1, 0, 0, 0) and second.duration_median is None
    assert entry.git_commit == "a" * 40 and not entry.passed


def test_the_same_report_is_recorded_once_however_its_file_is_laid_out(tmp_path: Path) -> None:
    made = report([["passed"]])
    again = json.loads(render_json(made))  # the report as its JSON file holds it
    assert report_id(again) == report_id(made)
    with open_history(tmp_path / "h.sqlite") as store:
        assert store.record(entry_of(made), source=Source.RUN, recorded_at="t")
        assert not store.record(entry_of(again), source=Source.IMPORT, recorded_at="t")
        assert [r.source for r in store.reports("made", None, last=5)] == [Source.RUN]


def test_the_window_is_the_latest_whole_runs_of_one_suite_and_environment(
    tmp_path: Path,
) -> None:
    reports = [report([["passed"]], finished_at=at(m)) for m in range(5)]
    reports += [
        report([["failed"]], finished_at=at(10), environment="production"),
        report([["failed"]], finished_at=at(11), suite="other"),
        report([["failed"]], finished_at=at(12), shard="1/2"),
    ]
    stopped = report([["not_run"]], finished_at=at(13))
    stopped["stopped"] = "interrupted"
    with open_history(tmp_path / "h.sqlite") as store:
        record_all(store, [*reports, stopped])
        window = store.reports("made", None, last=3)
        assert [r.entry.finished_at for r in window] == [at(4), at(3), at(2)]
        until = store.reports("made", None, last=10, until=at(1))
        assert [r.entry.finished_at for r in until] == [at(1), at(0)]
        everything = store.reports("made", None, last=10, whole=False)
        assert [r.entry.finished_at for r in everything][:2] == [at(13), at(12)]
        suites = {(s.suite, s.environment): (s.reports, s.whole) for s in store.suites()}
    assert suites == {
        ("made", None): (7, 5),
        ("made", "production"): (1, 1),
        ("other", None): (1, 1),
    }


def test_a_new_file_is_made_in_wal_mode_at_the_latest_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "h.sqlite"
    open_history(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == history_sqlite.VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_file_from_an_older_version_is_migrated_and_keeps_its_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "h.sqlite"
    with open_history(path) as store:
        record_all(store, [report([["passed"]], finished_at=at(1))])
    # A later version that adds a column: opening the file migrates it, once.
    added = "ALTER TABLE reports ADD COLUMN note TEXT; CREATE INDEX by_note ON reports (note)"
    monkeypatch.setattr(history_sqlite, "MIGRATIONS", (*history_sqlite.MIGRATIONS, added))
    monkeypatch.setattr(history_sqlite, "VERSION", len(history_sqlite.MIGRATIONS))
    with open_history(path) as store:
        assert len(store.reports("made", None, last=5)) == 1
    open_history(path).close()  # nothing left to migrate
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == history_sqlite.VERSION
        assert db.execute("SELECT count(*) FROM reports WHERE note IS NULL").fetchone() == (1,)
    db.close()


def test_a_version_1_file_gains_the_not_needed_count_and_keeps_its_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "h.sqlite"
    first, *later = history_sqlite.MIGRATIONS
    with sqlite3.connect(path) as db:  # a file as the first version of the history made it
        db.executescript(first)
        db.execute("PRAGMA user_version = 1")
        db.execute(
            "INSERT INTO reports VALUES (1, 'r1', 'run', 'then', 'made', 1, 's.yaml', '', "
            "'{}', NULL, 0, NULL, NULL, '2026-01-01T00:00:00Z', '0.1.0', 1, 1, 0, 3, 1.0, "
            "NULL, NULL)"
        )
        db.execute(
            "INSERT INTO cells VALUES (1, 0, 'c', 'c', 'c', 3, 0, 0, 0, 0, 1.0, 1, 0, NULL, NULL)"
        )
    db.close()
    assert later, "the not_needed column comes in a migration of its own"
    with open_history(path) as store:
        [recorded] = store.reports("made", None, last=5)
        [cell] = recorded.entry.cells
        assert cell.outcomes == (3, 0, 0, 0, 0, 0) and cell.runs == 3
        # A sequential cell's runs not needed are kept, and are not among its runs.
        sequential = report([["passed", "passed", "not_needed"]], finished_at=at(2))
        assert store.record(entry_of(sequential), source=Source.RUN, recorded_at="now")
        newest = store.reports("made", None, last=1)[0].entry.cells[0]
        assert newest.outcomes == (2, 0, 0, 0, 0, 1) and newest.runs == 2


def test_a_file_from_a_newer_specrunner_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    open_history(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {history_sqlite.VERSION + 1}")
    db.close()
    with pytest.raises(HistoryUnavailable, match="newer specrunner"):
        open_history(path)


@pytest.mark.parametrize(
    "content", [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_a_file_that_is_not_a_history_is_one_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(content)
    with (
        pytest.raises(HistoryUnavailable, match=r"h\.sqlite: cannot use the history"),
        open_history(path) as store,
    ):
        store.reports("made", None, last=1)


def test_reading_a_missing_history_makes_nothing(tmp_path: Path) -> None:
    with pytest.raises(HistoryUnavailable, match="nothing was recorded yet"):
        open_history(tmp_path / "none" / "h.sqlite", create=False)
    assert not (tmp_path / "none").exists()


def test_the_path_is_the_option_then_the_environment_then_the_default(tmp_path: Path) -> None:
    env = {"SPECRUNNER_HISTORY": "from-env.sqlite"}
    assert history_path("given.sqlite", env, tmp_path) == tmp_path / "given.sqlite"
    assert history_path(None, env, tmp_path) == tmp_path / "from-env.sqlite"
    assert history_path(None, {}, tmp_path) == tmp_path / ".specrunner" / "history.sqlite"
    assert history_path("/abs/h.sqlite", {}, tmp_path) == Path("/abs/h.sqlite")


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[3])
    from historykit import at, report
    from specrunner.history.entries import Source, entry_of
    from specrunner.history.store import open_history

    path, name = sys.argv[1], sys.argv[2]
    print("ready", flush=True)
    sys.stdin.readline()  # both start writing together
    for i in range(40):
        made = report([["passed", "failed"]] * 20, suite=name, finished_at=at(i))
        with open_history(__import__("pathlib").Path(path)) as store:
            assert store.record(entry_of(made), source=Source.RUN, recorded_at="t")
    print("done", flush=True)
    """
)


def test_two_processes_recording_at_once_both_get_recorded_intact(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    here = str(Path(__file__).parent)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name, here],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("shard-a", "shard-b")
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        outputs = [writer.communicate(timeout=120) for writer in writers]
    finally:
        for writer in writers:
            writer.kill()
            writer.wait(timeout=10)
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert out.strip() == "done"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        counts = dict(db.execute("SELECT suite, count(*) FROM reports GROUP BY suite"))
        assert counts == {"shard-a": 40, "shard-b": 40}
        assert db.execute("SELECT count(*) FROM cells").fetchone() == (80 * 20,)
    db.close()
