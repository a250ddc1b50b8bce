"""From planned scenarios to runs: selection, stable keys, shards, rendered payloads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from specrunner.errors import UsageError
from specrunner.masking import MASK, Secrets
from specrunner.models import PlannedRun, PlannedScenario, SequentialCell
from specrunner.suggest import did_you_mean, listing
from specrunner.suite.load import JsonPath
from specrunner.suite.sandbox import as_secret
from specrunner.suite.selection import run_key, shard_keys
from specrunner.suite.template import Level, Node, TemplateEngine, TemplateFailure


@dataclass(slots=True)
class ScenarioDraft:
    """A scenario whose settings are resolved, before its runs are rendered."""

    plan: PlannedScenario
    path: JsonPath
    payload: Node
    key_prefixes: list[str]
    secret_id: bool = False
    """Its id comes from the environment: `scenario.id` is a secret in its templates."""


def select_scenarios(
    scenarios: list[ScenarioDraft],
    tags: tuple[str, ...],
    wanted: tuple[str, ...],
    file: str,
    secrets: Secrets,
) -> list[ScenarioDraft]:
    """The scenarios `--tag` (any of) and `--scenario` (any of) keep; both must match."""
    known_tags = sorted({t for s in scenarios for t in s.plan.tags})
    for tag in tags:
        if tag not in known_tags:
            raise UsageError(
                f"--tag {tag!r}: no scenario in {file} has this tag"
                f"{did_you_mean(tag, known_tags)}{listing('tags', known_tags)}"
            )
    names = [s.plan.name for s in scenarios]
    listed = list(
        dict.fromkeys(
            f"{s.plan.name} (id {MASK if str(s.plan.id) in secrets else s.plan.id})"
            for s in scenarios
        )
    )
    for want in wanted:
        if not any(_is_scenario(s.plan, want) for s in scenarios):
            raise UsageError(
                f"--scenario {want!r}: no scenario in {file} has this "
                f"name or id{did_you_mean(want, names)}"
                + (listing("scenarios", listed) if len(listed) <= 12 else "")
            )
    return [
        s
        for s in scenarios
        if (not tags or any(t in s.plan.tags for t in tags))
        and (not wanted or any(_is_scenario(s.plan, w) for w in wanted))
    ]


def expand_runs(
    engine: TemplateEngine,
    scenarios: list[ScenarioDraft],
    context: dict[str, Any],
    shard: tuple[int, int] | None,
    failed: Callable[[TemplateFailure], None],
) -> list[PlannedRun]:
    """The runs of the selected scenarios: cells x repeats in shard (a sequential cell's
    all in one), payloads rendered.

    What does not change per run is rendered once per scenario, then once per cell.
    A failing template is reported through `failed`, with every other failing one of
    its scenario.
    """
    runs: list[PlannedRun] = []
    for scenario in scenarios:
        plan = scenario.plan
        scenario_context = {
            **context,
            "scenario": {
                "id": as_secret(plan.id) if scenario.secret_id else plan.id,
                "name": plan.name,
                "tags": list(plan.tags),
            },
        }
        where: tuple[dict[str, Any], Level] = (scenario_context, Level.SCENARIO)
        try:
            payload = engine.specialize(scenario.payload, scenario_context, Level.SCENARIO)
            sequential = plan.repeat_min is not None
            for cell, prefix in zip(plan.cells, scenario.key_prefixes, strict=True):
                keyed = [(r, run_key(prefix, r)) for r in range(1, plan.repeat + 1)]
                if shard is not None:
                    keys = [k for _, k in keyed]
                    chosen = set(shard_keys(keys, shard, sequential=sequential))
                    keyed = [(r, k) for r, k in keyed if k in chosen]
                if not keyed:
                    continue
                sequence = (
                    SequentialCell(prefix, plan.repeat_min, plan.repeat, plan.expect)
                    if plan.repeat_min is not None
                    else None
                )
                cell_context = {**scenario_context, "matrix": cell}
                where = (cell_context, Level.CELL)
                cell_payload = engine.specialize(payload, cell_context, Level.CELL)
                for repeat, key in keyed:
                    run_context = {
                        **cell_context,
                        "run": {"repeat": repeat, "index": len(runs), "key": key},
                    }
                    where = (run_context, Level.RUN)
                    value, shown = engine.render(cell_payload, run_context)
                    runs.append(
                        PlannedRun(
                            key=key,
                            index=len(runs),
                            scenario_id=plan.id,
                            scenario=plan.name,
                            cell=cell,
                            repeat=repeat,
                            room=plan.room,
                            timeout=plan.timeout,
                            publish_data_message=value,
                            shown_payload=shown,
                            sequence=sequence,
                        )
                    )
        except TemplateFailure as failure:
            failed(failure)
            for other in engine.failures(scenario.payload, *where):
                failed(other)
    return runs


def _is_scenario(plan: PlannedScenario, wanted: str) -> bool:
    return plan.name == wanted or str(plan.id) == wanted
