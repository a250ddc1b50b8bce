"""The local history: every finished run and merge records its report; `specrunner history`
reads a suite's back; `specrunner history import` records reports made elsewhere.

Recording never changes how a run ends: a history that cannot be written (a read-only
folder, a file locked too long, a file that is not a database) is one warning, and the run
keeps its exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from specrunner.errors import Diagnostic, SuiteError, UsageError
from specrunner.history.entries import Entry, Source, entry_of
from specrunner.history.store import HistoryStore, SuiteRecords, history_path, open_history
from specrunner.history.trends import suite_history
from specrunner.history.view import history_json, history_text
from specrunner.report.records import Report
from specrunner.suggest import did_you_mean, listing
from specrunner.text import visible

if TYPE_CHECKING:
    from specrunner.report.charts import Trend
    from specrunner.report.json_text import ItemsJson

# `specrunner history` imports only what reading needs: recording, drawing and reading
# report files load the rest when they run.

DEFAULT_LAST = 20


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """Where the history is (`--history PATH`, else $SPECRUNNER_HISTORY, else
    .specrunner/history.sqlite in `workdir`), and whether to use it at all."""

    path: str | None = None
    off: bool = False
    environ: Mapping[str, str] = field(default_factory=dict)
    workdir: Path = field(default_factory=Path.cwd)

    @property
    def location(self) -> Path:
        return history_path(self.path, self.environ, self.workdir)


def keep(
    report: Report,
    source: Source,
    settings: HistorySettings,
    warn: Callable[[str], None],
    runs: ItemsJson | None = None,
) -> Trend | None:
    """Record `report` and return the history its charts draw; None (and one warning on
    `warn`) when the history cannot be written, and None when it is off. `runs`: the
    texts of its runs, when they were written out as it was made (its id is then made
    faster)."""
    if settings.off or not report["runs"]:  # a selection of nothing has no history
        return None
    from specrunner.app.clock import now_iso
    from specrunner.history.charting import report_trend

    try:
        entry = entry_of(report, runs)
        with open_history(settings.location) as store:
            store.record(entry, source=source, recorded_at=now_iso())
            return report_trend(store, entry)
    except Exception as error:  # whatever it is, the run's own result stands
        warn(f"warning: the history was not written, the run's result stands: {_why(error)}")
        return None


def recording(
    settings: HistorySettings, source: Source, warn: Callable[[str], None]
) -> Callable[[Report, ItemsJson | None], Trend | None]:
    """`keep`, for a use case that makes a report (`merge`)."""
    return lambda report, runs: keep(report, source, settings, warn, runs)


def reading(settings: HistorySettings) -> Callable[[Report, ItemsJson | None], Trend | None]:
    """`trend_of`, for a use case that draws a report again (`report`)."""
    return lambda report, _runs: trend_of(report, settings)


def trend_of(report: Report, settings: HistorySettings) -> Trend | None:
    """The history `report`'s charts draw, read without recording anything; None when it
    is off, missing or cannot be read (the charts that need it are then left out)."""
    if settings.off or not settings.location.is_file():
        return None
    from specrunner.history.charting import report_trend

    try:
        with open_history(settings.location, create=False) as store:
            return report_trend(store, entry_of(report))
    except Exception:  # the page is drawn without the history
        return None


def _why(error: BaseException) -> str:
    return visible(str(error) or type(error).__name__)


# ---- specrunner history SUITE


def show(
    suite: str,
    settings: HistorySettings,
    *,
    environment: str | None = None,
    last: int = DEFAULT_LAST,
    output_format: str = "text",
) -> str:
    """`specrunner history`: each cell's pass rate over the suite's last `last` whole-plan
    runs in one environment, and the cells that flip."""
    if last < 1:
        raise UsageError("--last must be at least 1")
    name, default_environment = _suite_name(suite)
    with open_history(settings.location, create=False) as store:
        chosen, recorded = _pick(store, name, environment or default_environment, settings)
        history = suite_history(store, name, chosen, last=last)
    if output_format == "json":
        return history_json(history, recorded)
    return history_text(history, recorded)


def _suite_name(suite: str) -> tuple[str, str | None]:
    """The suite's name, and its default environment, when `suite` is a suite file; else
    `suite` itself, as a suite's name."""
    if not Path(suite).is_file():
        return suite, None
    from specrunner.suite.load import load_suite  # only for a suite given by its file

    data = load_suite(suite).data
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise SuiteError([Diagnostic(suite, 1, 1, "not a suite: it has no 'name'")])
    default = data.get("default_environment")
    return data["name"], default if isinstance(default, str) else None


def _pick(
    store: HistoryStore, suite: str, environment: str | None, settings: HistorySettings
) -> tuple[str | None, int]:
    """The environment to show (the one asked for, else the latest recorded) and how many
    whole-plan reports of it are recorded."""
    suites = store.suites()
    mine = [s for s in suites if s.suite == suite]
    where = visible(str(settings.location))
    if not mine:
        names = sorted({s.suite for s in suites})
        raise UsageError(
            f"history: no run of suite {visible(suite)!r} is recorded in {where}"
            f"{did_you_mean(suite, names)}{listing('recorded suites', names)}"
        )
    if environment is not None:
        found = [s for s in mine if s.environment == environment]
        if not found:
            names = [s.environment or "(none)" for s in mine]
            raise UsageError(
                f"history: no run of {visible(suite)!r} in environment "
                f"{visible(environment)!r} is recorded{did_you_mean(environment, names)}"
                f"{listing('recorded environments', names)}"
            )
        return environment, _whole(found[0], where)
    return mine[0].environment, _whole(mine[0], where)


def _whole(records: SuiteRecords, where: str) -> int:
    if records.whole == 0:
        raise UsageError(
            f"history: {where} holds only reports of shards or of stopped runs of "
            f"{visible(records.suite)!r}: merge the shards' reports (specrunner merge) to "
            "record the whole plan"
        )
    return records.whole


# ---- specrunner history import REPORT.json...


def _not_whole(entry: Entry) -> str:
    if entry.shard is not None:
        return f"shard {visible(entry.shard)}"
    return "partial"


@dataclass(frozen=True, slots=True)
class Imported:
    lines: tuple[str, ...]
    failed: int

    @property
    def exit_code(self) -> int:
        return 2 if self.failed else 0


def import_reports(paths: Sequence[str], settings: HistorySettings) -> Imported:
    """Record each report of `paths`; one recorded before (by the run that wrote it, or
    an earlier import) is skipped. A file that is not a report is named, and the others
    are still recorded."""
    from specrunner.app.clock import now_iso
    from specrunner.report.saved import read_report

    lines: list[str] = []
    failed = 0
    entries: list[tuple[str, Entry]] = []
    for path in paths:
        try:
            report = read_report(path)
        except UsageError as error:
            lines.append(f"not imported: {error}")
            failed += 1
            continue
        entries.append((path, entry_of(report)))
    with open_history(settings.location) as store:
        for path, entry in entries:
            added = store.record(entry, source=Source.IMPORT, recorded_at=now_iso())
            what = f"{visible(entry.suite)}" + (
                f" ({visible(entry.environment)})" if entry.environment else ""
            )
            if added:
                aside = "" if entry.whole else f" ({_not_whole(entry)}: left out of `history`)"
                lines.append(
                    f"recorded {visible(path)}: {what}, finished {entry.finished_at}{aside}"
                )
            else:
                lines.append(f"skipped {visible(path)}: already recorded")
    return Imported(tuple(lines), failed)
