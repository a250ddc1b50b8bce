"""The journal, read back, says for every planned run what may be done with it."""

from __future__ import annotations

from pathlib import Path

from specrunner.execute.journal import Journal, replay


def journal(tmp_path: Path, *records: tuple[str, dict[str, object]]) -> Path:
    path = tmp_path / "journal.jsonl"
    writer = Journal(path)
    writer.write("start", keys=["a", "b", "c", "d", "e"], request={})
    for kind, fields in records:
        writer.write(kind, **fields)
    writer.close()
    return path


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


def test_a_last_line_cut_short_by_a_crash_is_ignored(tmp_path: Path) -> None:
    path = journal(tmp_path, ("intent", {"batch": 1, "keys": ["a"]}))
    with path.open("a") as file:
        file.write('{"type":"submitted","batch":1,"result_id":9,"ru')
    state = replay(path)
    assert state.runs["a"].batch == 1
    assert state.runs["a"].run_id is None
