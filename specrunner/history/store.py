"""The history's one interface: record a report, read a suite's recorded reports back.

Callers hold a `HistoryStore` and nothing else, so that a database shared by a team (a
server) can stand beside the local SQLite file without changing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from specrunner.errors import UsageError
from specrunner.history.entries import Entry, Source

DEFAULT_PATH = Path(".specrunner") / "history.sqlite"
ENV_VAR = "SPECRUNNER_HISTORY"


class HistoryUnavailable(UsageError):
    """The history cannot be opened, read or written: the path, and why."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """A report in the history, with when and how it came in."""

    seq: int
    """The order in which reports were recorded."""
    source: Source
    recorded_at: str
    entry: Entry


@dataclass(frozen=True, slots=True)
class SuiteRecords:
    """How much the history holds of one suite in one environment."""

    suite: str
    environment: str | None
    reports: int
    whole: int
    """Of `reports`, those of whole plans (see `Entry.whole`)."""
    last_finished_at: str


class HistoryStore(Protocol):
    def record(self, entry: Entry, *, source: Source, recorded_at: str) -> bool:
        """Record `entry`; False when a report with its id was recorded before."""
        ...

    def suites(self) -> list[SuiteRecords]:
        """Each suite and environment with recorded reports, the latest first."""
        ...

    def reports(
        self,
        suite: str,
        environment: str | None,
        *,
        last: int,
        until: str | None = None,
        whole: bool = True,
    ) -> list[Recorded]:
        """The `last` reports of `suite` in `environment` (None: run without one),
        most recent first, with their cells; only those finished at or before `until`
        when given, and only those of whole plans when `whole`."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> HistoryStore: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...


def history_path(given: str | None, environ: Mapping[str, str], workdir: Path) -> Path:
    """Where the history is: `--history PATH`, else $SPECRUNNER_HISTORY, else
    .specrunner/history.sqlite; a relative path is taken from `workdir`."""
    chosen = given or environ.get(ENV_VAR) or str(DEFAULT_PATH)
    return workdir / Path(chosen).expanduser()


def open_history(path: Path, *, create: bool = True) -> HistoryStore:
    """The history at `path`; with `create=False`, a missing file is HistoryUnavailable
    and nothing is made."""
    from specrunner.history.sqlite import SqliteHistory  # the one implementation, for now

    return SqliteHistory(path, create=create)
