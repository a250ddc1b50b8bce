"""The shards of one plan among the reports given to `specrunner merge`.

The reports must record one plan (its fingerprint), cut into one number of shards, each
shard given once and whole. What is left is which shards are missing and which runs they
hold: an error, or with --allow-partial runs counted as not run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from specrunner.errors import UsageError
from specrunner.report.planned import fingerprint
from specrunner.report.records import PlanCell, Report, ReportPlan
from specrunner.suite.selection import in_shard, parse_shard
from specrunner.text import counted


@dataclass(frozen=True, slots=True, order=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, key: str) -> bool:
        """Whether the run with this key falls in this shard (`--shard` splits by key)."""
        try:
            return in_shard(key, (self.index, self.count))
        except ValueError:  # not a run key: a hex number
            return False

    def keys_of(self, cell: PlanCell) -> list[str]:
        """The keys of the cell's runs in this shard: each run's by its key, a sequential
        cell's all by its first (`suite.selection.shard_keys`)."""
        keys = cell["keys"]
        if "repeat" in cell:
            return list(keys) if keys and self.holds(keys[0]) else []
        return [key for key in keys if self.holds(key)]


@dataclass(frozen=True, slots=True)
class Shards:
    """The shards of one plan that the reports hold, and what they lack."""

    plan: ReportPlan
    given: Mapping[Shard, str]
    """Each shard given, and the report that holds it."""
    missing: tuple[Shard, ...]
    """The shards with runs in the plan that no report holds."""
    missing_keys: frozenset[str]
    """The runs of the missing shards."""

    def describe_missing(self) -> str:
        """`shard 3/3 is missing (2 of the plan's 6 runs)`."""
        return (
            f"{missing_shards(self.missing)} ({len(self.missing_keys)} of the plan's "
            f"{counted(self.plan['runs'], 'run')})"
        )


def shard_of(report: Report, name: str) -> Shard:
    """The report's shard; a report of a whole plan is its shard 1/1."""
    text = report["selection"]["shard"]
    if text is None:
        return Shard(1, 1)
    try:
        return Shard(*parse_shard(text))
    except UsageError:
        raise UsageError(f"merge: {name}: its selection.shard {text!r} is not I/N") from None


def plan_of(report: Report, name: str) -> ReportPlan:
    """The report's plan record, checked against its fingerprint."""
    plan = report.get("plan")
    if plan is None:
        raise UsageError(
            f"merge: {name} does not record its plan (specrunner {report['specrunner']} "
            "wrote it): run its shard again with this specrunner to merge it"
        )
    if "merged" in plan:
        raise UsageError(f"merge: {name} is a merged report: merge the shards' own reports")
    if plan["fingerprint"] != fingerprint(report):
        raise UsageError(
            f"merge: {name}: its plan does not match its fingerprint (the report was "
            "changed after it was written)"
        )
    return plan


def check_shards(reports: Sequence[Report], names: Sequence[str]) -> Shards:
    """The shards the reports hold, once each, of one plan cut one way; UsageError else.

    The caller has checked that the reports share their suite, environment and selection;
    here the plans must be one (the suite may have changed between shards)."""
    first, first_name = reports[0], names[0]
    plan = plan_of(first, first_name)
    first_shard = shard_of(first, first_name)
    given: dict[Shard, str] = {}
    for report, name in zip(reports, names, strict=True):
        mine = plan_of(report, name)
        if mine["fingerprint"] != plan["fingerprint"]:
            raise UsageError(
                f"merge: {name} and {first_name} are not shards of one plan: their "
                "scenarios, cells, rules, rooms or repeats differ (plans "
                f"{mine['fingerprint']} and {plan['fingerprint']}); run every shard from "
                "one version of the suite"
            )
        shard = shard_of(report, name)
        if shard.count != first_shard.count:
            raise UsageError(
                f"merge: {name} is shard {shard} and {first_name} is shard {first_shard}: "
                "the shards of one plan are cut into one number of parts (one N in "
                "--shard I/N)"
            )
        if shard in given and shard.count == 1:
            raise UsageError(
                f"merge: {given[shard]} and {name} are both reports of the whole plan (run "
                "without --shard): merge the reports of a plan's shards, each once"
            )
        if shard in given:
            raise UsageError(
                f"merge: {given[shard]} and {name} are both shard {shard}: give each shard once"
            )
        given[shard] = name
        _check_whole(report, name, shard, plan)
    count = first_shard.count
    missing: list[Shard] = []
    missing_keys: set[str] = set()
    for index in range(1, count + 1):
        shard = Shard(index, count)
        if shard in given:
            continue
        keys = [k for cell in plan["cells"] for k in shard.keys_of(cell)]
        if keys:  # a shard of no runs misses nothing
            missing.append(shard)
            missing_keys.update(keys)
    return Shards(plan, given, tuple(missing), frozenset(missing_keys))


def _check_whole(report: Report, name: str, shard: Shard, plan: ReportPlan) -> None:
    """The report holds exactly the runs its plan puts in its shard, each once."""
    planned = {k for cell in plan["cells"] for k in shard.keys_of(cell)}
    seen: set[str] = set()
    for run in report["runs"]:
        key = run["key"]
        if key not in planned:
            raise UsageError(
                f"merge: {name} holds run {key}, which its plan does not put in shard {shard}"
            )
        if key in seen:
            raise UsageError(f"merge: {name} holds run {key} twice")
        seen.add(key)
    lacking = sorted(planned - seen)
    if lacking:
        raise UsageError(
            f"merge: {name} lacks {counted(len(lacking), 'run')} of shard {shard} (run {lacking[0]}"
            f"{', ...' if len(lacking) > 1 else ''}): it is not the whole report of its shard"
        )


def missing_shards(shards: Sequence[Shard]) -> str:
    """`shard 3/3 is missing`, `shards 2/4 and 4/4 are missing`."""
    names = [str(s) for s in shards]
    if len(names) == 1:
        return f"shard {names[0]} is missing"
    return f"shards {', '.join(names[:-1])} and {names[-1]} are missing"


def partial_note(report: Report) -> str | None:
    """What a partial merge lacks, for the views: `shard 3/3 is missing: its 2 runs count
    as not run`; None for any other report."""
    plan = report.get("plan")
    if plan is None or not plan.get("missing"):
        return None
    shards = []
    for text in plan.get("missing", []):
        try:
            shards.append(Shard(*parse_shard(text)))
        except UsageError:
            continue
    if not shards:
        return None
    held = {key for cell in plan["cells"] for s in shards for key in s.keys_of(cell)}
    count = sum(1 for run in report["runs"] if run["key"] in held)
    their = "its" if len(shards) == 1 else "their"
    count_as = "counts" if count == 1 else "count"
    return f"{missing_shards(shards)}: {their} {counted(count, 'run')} {count_as} as not run"
