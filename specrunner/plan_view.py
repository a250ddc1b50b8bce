"""How `specrunner plan` shows a plan: one JSON object, or a table grouped by scenario.

Only masked values are shown: payloads as `shown_payload`, and ids or agents that came
from the environment as ***.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from specrunner.masking import MASK
from specrunner.models import Plan, PlannedRun
from specrunner.suite.duration import format_duration
from specrunner.suite.matrix import cell_label

PAYLOAD_WIDTH = 72


def plan_json(plan: Plan) -> dict[str, Any]:
    def shown(value: Any) -> Any:
        return MASK if value is not None and str(value) in plan.secrets else value

    runs = [
        {
            "key": run.key,
            "index": run.index,
            "scenario_id": shown(run.scenario_id),
            "scenario": run.scenario,
            "cell": run.cell,
            "repeat": run.repeat,
            "room": run.room,
            "timeout": run.timeout,
            "publish_data_message": run.shown_payload,
        }
        for run in plan.runs
    ]
    data = {
        "suite": {
            "name": plan.suite_name,
            "file": plan.suite_file,
            "version": plan.version,
            "description": plan.description,
        },
        "environment": plan.environment,
        "agent": shown(plan.agent),
        "selection": plan.selection.as_json(),
        "rooms": {
            name: {
                "source": str(spec.source),
                "capacity": spec.capacity,
                "env": list(spec.env_names),
                "missing_env": list(spec.missing_env),
            }
            for name, spec in plan.rooms.items()
        },
        "summary": _summary(plan),
        "runs": runs,
    }
    return plan.secrets.redact(data)  # type: ignore[no-any-return]


def _summary(plan: Plan) -> dict[str, Any]:
    cells = {(run.scenario, id(run.cell)) for run in plan.runs}  # runs share their cell
    return {
        "runs": len(plan.runs),
        "scenarios": len({run.scenario for run in plan.runs}),
        "cells": len(cells),
        "total_runs": plan.total_runs,
        "by_scenario": dict(Counter(run.scenario for run in plan.runs)),
        "by_room": dict(Counter(run.room for run in plan.runs)),
    }


def plan_json_text(plan: Plan) -> str:
    """Indented JSON with one run per line: readable, greppable, and fast for large plans."""
    data = plan_json(plan)
    runs = data.pop("runs")
    head = json.dumps(data, indent=2, ensure_ascii=False)[:-2]
    lines = ",\n    ".join(json.dumps(run, ensure_ascii=False) for run in runs)
    body = f"[\n    {lines}\n  ]" if runs else "[]"
    return head + ',\n  "runs": ' + body + "\n}\n"


def plan_text(plan: Plan) -> str:
    lines: list[str] = []
    summary = _summary(plan)
    env = f", environment {plan.environment}" if plan.environment else ""
    agent = plan.agent if plan.agent is None or str(plan.agent) not in plan.secrets else MASK
    agent_text = f", agent {agent}" if agent is not None else ""
    lines.append(f"Suite {plan.suite_name} ({plan.suite_file}){env}{agent_text}")
    selected = "" if plan.total_runs == len(plan.runs) else f" (of {plan.total_runs} in the suite)"
    lines.append(
        f"{_count(summary['runs'], 'run')}{selected} in "
        f"{_count(summary['cells'], 'cell')} of "
        f"{_count(summary['scenarios'], 'scenario')}"
    )
    by_scenario: dict[str, list[PlannedRun]] = {}
    for run in plan.runs:
        by_scenario.setdefault(run.scenario, []).append(run)
    for scenario in plan.scenarios:
        runs = by_scenario.get(scenario.name)
        if not runs:
            continue
        scenario_id = MASK if str(scenario.id) in plan.secrets else scenario.id
        tags = f", tags [{', '.join(scenario.tags)}]" if scenario.tags else ""
        lines.append("")
        lines.append(
            f"{scenario.name}  (scenario {scenario_id}, room {scenario.room}{tags}, "
            f"timeout {format_duration(scenario.timeout)}, "
            f"expect {scenario.expect.describe()})"
        )
        lines.append(
            f"  {_count(len(runs), 'run')}: {_count(len(scenario.cells), 'cell')} x "
            f"{scenario.repeat} repeat{'s' if scenario.repeat != 1 else ''}"
            + ("" if len(runs) == len(scenario.cells) * scenario.repeat else " before selection")
        )
        rows = [("KEY", "CELL", "REPEAT", "PUBLISH_DATA_MESSAGE")]
        rows += [
            (run.key, cell_label(run.cell), str(run.repeat), _payload(run.shown_payload))
            for run in runs
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            lines.append(
                "  " + "  ".join([row[i].ljust(widths[i]) for i in range(3)] + [row[3]]).rstrip()
            )
    if plan.rooms:
        lines.append("")
        lines.append("Rooms")
        for name, spec in plan.rooms.items():
            capacity = f", at most {spec.capacity} at once" if spec.capacity else ""
            needs = ""
            if spec.env_names:
                status = [
                    f"{n} ({'not set' if n in spec.missing_env else 'set'})" for n in spec.env_names
                ]
                needs = f"; needs {', '.join(status)}"
            used = summary["by_room"].get(name, 0)
            lines.append(f"  {name}: {spec.source}{capacity}; {_count(used, 'run')}{needs}")
    text = "\n".join(lines) + "\n"
    return plan.secrets.redact_text(text)


def _payload(value: Any) -> str:
    if value is None:
        return "-"
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= PAYLOAD_WIDTH else text[: PAYLOAD_WIDTH - 3] + "..."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
