"""The JSON report as typed records: these TypedDicts mirror schemas/report.v1.json.

One TypedDict per object of the schema, with the schema's property names as keys; a key
the schema does not require is `NotRequired`, a value it allows to be null is `X | None`.
tests/report/test_records.py walks the schema and these records side by side, so a change
to one that is not made to the other fails the tests.

Free-form JSON (a cell's matrix values, the payload a run sent) stays `dict[str, Any]` or
`Any`: the schema gives it no shape either.
"""

# No `from __future__ import annotations` here: on Python 3.11 it makes TypedDict treat
# `NotRequired[...]` keys as required (`__required_keys__` is computed from the strings),
# and the test that keeps these records in step with the schema relies on those keys.

from typing import Any, Literal, NotRequired, TypedDict

OutcomeName = Literal["passed", "failed", "error", "unknown", "not_run", "not_needed"]
"""A run's outcome as the report spells it (`$defs/outcome`; `models.Outcome`'s values)."""


class ReportSuite(TypedDict):
    name: str
    file: str
    version: int
    description: str | None


class ReportSelection(TypedDict):
    environment: str | None
    tags: list[str]
    scenarios: list[str]
    shard: str | None
    set: list[str]


class ReportGit(TypedDict):
    commit: str | None


class OutcomeCounts(TypedDict):
    """How many runs had each outcome (`$defs/outcome_counts`)."""

    passed: int
    failed: int
    error: int
    unknown: int
    not_run: int
    not_needed: NotRequired[int]
    """Runs of sequential cells never sent, their cell decided without them: only where
    there are any (reports before sequential cells never have them)."""


class DurationStats(TypedDict):
    median: float | None
    p95: float | None


class Verdict(TypedDict):
    passed: bool
    cells: int
    cells_passed: int
    cells_failed: int
    flaky_cells: int
    runs: int
    outcomes: OutcomeCounts
    pass_rate: float | None
    duration_seconds: DurationStats
    metrics: dict[str, float]


class ExpectRule(TypedDict):
    """A cell's rule: exactly one of the two keys (the schema's min/maxProperties)."""

    pass_rate: NotRequired[float]
    min_passes: NotRequired[int]
    confidence: NotRequired[float]
    """The confidence a sequential cell may stop at."""


class Repeat(TypedDict):
    """A sequential cell's least and most runs (`repeat: {min, max}`)."""

    min: int
    max: int


class Sequential(Repeat):
    """What became of a sequential cell: the runs sent of its `max`, and why it stopped
    (`specrunner.stopping.Stop`'s values)."""

    sent: int
    stopped: Literal["exact", "confidence", "max", "unfinished"]
    reason: str


class CellMeta(TypedDict):
    """What judging needs of a cell besides its runs: its identity, labels and rule."""

    scenario: str
    scenario_id: int | str
    cell: dict[str, Any]
    label: str
    tags: list[str]
    expect: ExpectRule
    repeat: NotRequired[Repeat]
    """A sequential cell's least and most runs; absent when every repeat runs."""


class ReportCell(CellMeta):
    id: str
    runs: int
    outcomes: OutcomeCounts
    pass_rate: float | None
    wilson: list[float] | None
    flaky: bool
    met: bool
    keys: list[str]
    sequential: NotRequired[Sequential]
    """A sequential cell's runs sent and why it stopped; absent for other cells."""


class PlanCell(CellMeta):
    """A cell of the plan (`$defs/plan_cell`): what judging needs of it, the room that
    serves it, and the keys of all its runs, whichever shard they fall in (a sequential
    cell's all in the shard of its first)."""

    room: str
    keys: list[str]


class ReportPlan(TypedDict):
    """The plan a report is (a shard of), for `specrunner merge` to tell what is missing."""

    fingerprint: str
    runs: int
    cells: list[PlanCell]
    merged: NotRequired[list[str]]
    """In a merged report: the shards (I/N) it joins."""
    missing: NotRequired[list[str]]
    """In a partial merge: the shards (I/N) it lacks; their runs are in it as not run."""


class ReportMetric(TypedDict):
    """One Cekura metric of a run (`$defs/metric`)."""

    name: str
    type: str
    score: NotRequired[float | None]
    value: NotRequired[str | None]
    explanation: NotRequired[list[str]]


class ExpectedOutcome(TypedDict):
    score: float | None
    explanation: list[str]


class ReportRun(TypedDict):
    key: str
    scenario_id: int | str
    scenario: str
    cell: dict[str, Any]
    repeat: int
    room: str
    outcome: OutcomeName
    status: str | None
    run_id: int | None
    result_id: int | None
    error: str | None
    duration_seconds: float | None
    transcript: str | None
    recording_url: str | None
    metrics: list[ReportMetric]
    expected_outcome: ExpectedOutcome | None
    publish_data_message: Any


CountedOutcome = Literal["passed", "failed", "error"]
"""The outcomes a comparison counts a cell's passes out of."""

ChangeStatus = Literal["regressed", "improved", "unchanged", "not_compared", "new", "removed"]
"""What became of a cell between two reports (`$defs/change`)."""


class ComparedReport(TypedDict):
    """One of the two reports of a comparison, as the comparison names it."""

    file: str | None
    """The file as given; None for the report that carries the comparison."""
    suite_version: int
    environment: str | None
    git_commit: str | None
    finished_at: str
    passed: bool
    """Its own verdict: every cell met its rule."""
    stopped: str | None
    cells: int


class ComparisonMethod(TypedDict):
    test: Literal["fisher_exact_one_sided"]
    adjustment: Literal["benjamini_hochberg"]
    alpha: float
    counted: list[CountedOutcome]
    """The outcomes of the runs a cell's pass count is out of."""


class ComparedSide(TypedDict):
    """A cell's runs on one side of a comparison."""

    passed: int
    counted: int
    """Its runs of the counted outcomes: passed, failed, error."""
    left_out: int
    """Its runs without a verdict (unknown, not run), left out of the test."""
    pass_rate: float | None
    """`passed / counted`, or null when nothing counted."""
    met: bool
    expect: ExpectRule


class ComparedCell(TypedDict):
    id: str
    scenario: str
    cell: dict[str, Any]
    label: str
    status: ChangeStatus
    base: ComparedSide | None
    new: ComparedSide | None
    change: float | None
    """The new pass rate less the baseline's; null unless both have one."""
    p_worse: float | None
    p_better: float | None
    q_worse: float | None
    q_better: float | None
    note: str | None
    """Why a cell is not what its verdicts suggest (met before, not now, within chance)."""


class ComparisonSummary(TypedDict):
    regressed: int
    improved: int
    unchanged: int
    not_compared: int
    new: int
    removed: int
    tested: int
    """The cells tested (the size of the family the false discovery rate is over)."""


class Comparison(TypedDict):
    """Two reports of one suite compared cell by cell (`specrunner compare`, `--baseline`)."""

    comparison_version: Literal[1]
    specrunner: str
    suite: str
    base: ComparedReport
    new: ComparedReport
    method: ComparisonMethod
    summary: ComparisonSummary
    notes: list[str]
    cells: list[ComparedCell]


class Report(TypedDict):
    """The whole report: the canonical record of a run (or of merged shards)."""

    report_version: Literal[1]
    specrunner: str
    suite: ReportSuite
    environment: str | None
    selection: ReportSelection
    git: ReportGit
    started_at: str | None
    finished_at: str
    run_dir: str | None
    plan: NotRequired[ReportPlan]
    """Absent from reports written before reports recorded their plan."""
    stopped: NotRequired[str | None]
    """Why the run stopped before its end: its results are partial (absent when whole)."""
    verdict: Verdict
    cells: list[ReportCell]
    runs: list[ReportRun]
    comparison: NotRequired[Comparison]
    """With `--baseline`: how its cells changed against the baseline report."""
