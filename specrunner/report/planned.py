"""The plan a report records: every cell of the selection with the keys of all its runs,
whichever shard each falls in, and a fingerprint that the shards of one plan share.

With it, `specrunner merge` knows how many shards a plan was cut into, which of them it
was given and which runs the missing ones hold, from the shards' reports alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, cast

from specrunner.models import Plan
from specrunner.report.records import ExpectRule, PlanCell, Report, ReportPlan
from specrunner.suite.matrix import cell_label
from specrunner.suite.selection import run_key, run_key_prefix


def plan_cells(plan: Plan, shown_id: Callable[[int], int | str]) -> list[PlanCell]:
    """Every cell of `plan`'s selected scenarios with the keys of its runs, repeat 1 first.

    The keys are made as compiling makes them (`run_key`), for every repeat: a shard's
    plan holds only its own runs, and its report must name the others too."""
    cells: list[PlanCell] = []
    for scenario in plan.scenarios:
        for cell in scenario.cells:
            prefix = run_key_prefix(plan.suite_name, scenario.name, cell)
            cells.append(
                {
                    "scenario": scenario.name,
                    "scenario_id": shown_id(scenario.id),
                    "cell": dict(cell),
                    "label": cell_label(cell),
                    "tags": list(scenario.tags),
                    # `Expectation.as_json` writes the schema's expect rule.
                    "expect": cast(ExpectRule, scenario.expect.as_json()),
                    "room": scenario.room,
                    "keys": [run_key(prefix, r) for r in range(1, scenario.repeat + 1)],
                }
            )
            if scenario.repeat_min is not None:
                cells[-1]["repeat"] = {"min": scenario.repeat_min, "max": scenario.repeat}
    return cells


def plan_record(cells: list[PlanCell]) -> ReportPlan:
    """The record, its fingerprint still to be taken (`fingerprint`, once the report's
    secrets are masked: the fingerprint is of what the report shows)."""
    return {"fingerprint": "", "runs": sum(len(c["keys"]) for c in cells), "cells": cells}


def fingerprint(report: Report) -> str:
    """What the shards of one plan share: the suite's name and version, the environment,
    the selection but the shard, and every planned cell with its rule, room and run keys.
    The suite file's path is left out: it may differ from one CI runner to the next."""
    plan = report.get("plan")
    selection = {k: v for k, v in report["selection"].items() if k != "shard"}
    identity: dict[str, Any] = {
        "suite": [report["suite"]["name"], report["suite"]["version"]],
        "environment": report["environment"],
        "selection": selection,
        "runs": plan["runs"] if plan is not None else None,
        "cells": plan["cells"] if plan is not None else None,
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]
