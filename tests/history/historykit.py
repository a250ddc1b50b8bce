"""Reports to record, made to order: the views' report factory, with the suite, the
environment, the time and the shard set as a history test needs them."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))

from report_factory import make_report

from specrunner.history.entries import Source, entry_of
from specrunner.history.store import HistoryStore
from specrunner.report.records import OutcomeName, Report


def report(
    outcomes: Sequence[Sequence[OutcomeName]],
    *,
    finished_at: str = "2026-01-02T03:04:05Z",
    suite: str = "made",
    environment: str | None = None,
    shard: str | None = None,
    commit: str | None = None,
    duration: float | None = 60.0,
) -> Report:
    made = make_report(outcomes, duration=duration)
    made["suite"]["name"] = suite
    made["environment"] = environment
    made["selection"]["environment"] = environment
    made["selection"]["shard"] = shard
    made["git"]["commit"] = commit
    made["finished_at"] = finished_at
    return made


def at(minute: int) -> str:
    """A finishing time, `minute` minutes into a day."""
    return f"2026-01-02T{minute // 60:02d}:{minute % 60:02d}:00Z"


def record_all(store: HistoryStore, reports: Sequence[Report]) -> None:
    for made in reports:
        assert store.record(entry_of(made), source=Source.RUN, recorded_at="2026-01-03T00:00:00Z")
