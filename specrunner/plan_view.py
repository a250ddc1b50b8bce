"""How `specrunner plan` shows a plan: one JSON object, or a table grouped by scenario.

Only masked values are shown: payloads as `shown_payload`, and ids or agents that came
from the environment as ***. The text is laid out for a width (the terminal's): payloads
and cells are wrapped, never cut, and masked before they are wrapped, so that a secret
cannot slip through a line break. A width of None lays each on one line (`--wide`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from specrunner.masking import MASK
from specrunner.models import Plan, PlannedRun, PlannedScenario, RoomSpec
from specrunner.spend import Spend
from specrunner.suite.duration import format_duration
from specrunner.suite.matrix import cell_label
from specrunner.text import visible
from specrunner.wrapping import DEFAULT_WIDTH, hanging, json_line, json_pieces

NARROW = 40
_PAYLOAD = "PUBLISH_DATA_MESSAGE"
"""A payload column narrower than this (a narrow terminal) puts payloads under their row."""


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
            # A run of a sequential cell is sent only if its cell still needs it.
            **(
                {}
                if run.sequence is None
                else {"sequential": {"min": run.sequence.min, "max": run.sequence.max}}
            ),
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
        "summary": summary(plan),
        "runs": runs,
    }
    return plan.secrets.redact(data)  # type: ignore[no-any-return]


def summary(plan: Plan) -> dict[str, Any]:
    """Counts of the plan: runs, scenarios, cells, the suite's runs, what the runs may
    spend (calls, and seconds of call time at most), by scenario and room."""
    cells = {(run.scenario, id(run.cell)) for run in plan.runs}  # runs share their cell
    spend = Spend.of(plan.runs)
    return {
        "runs": len(plan.runs),
        "scenarios": len({run.scenario for run in plan.runs}),
        "cells": len(cells),
        "total_runs": plan.total_runs,
        "calls": spend.calls,
        "call_time_max_seconds": spend.call_seconds,
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


def runs_sentence(plan: Plan) -> str:
    """`3 runs (of 6 in the suite) in 2 cells of 2 scenarios`."""
    counts = summary(plan)
    selected = "" if plan.total_runs == len(plan.runs) else f" (of {plan.total_runs} in the suite)"
    return (
        f"{count(counts['runs'], 'run')}{selected} in {count(counts['cells'], 'cell')} of "
        f"{count(counts['scenarios'], 'scenario')}"
    )


def plan_text(plan: Plan, width: int | None = DEFAULT_WIDTH) -> str:
    """The plan as a person reads it, in lines of at most `width` characters (where a
    piece is not longer by itself), or one line per item when `width` is None."""
    counts = summary(plan)
    lines = suite_heading(plan, "Suite", width)
    lines += prose(plan, runs_sentence(plan), width, indent="")
    lines += sentences(plan, Spend.of(plan.runs).sentence(), width)
    for scenario, cells in grouped(plan):
        runs = [run for cell_runs in cells for run in cell_runs]
        tags = f", tags [{', '.join(scenario.tags)}]" if scenario.tags else ""
        lines.append("")
        lines += prose(
            plan,
            f"{scenario.name}  (scenario {scenario_id(plan, scenario)}, room {scenario.room}"
            f"{tags}, timeout {format_duration(scenario.timeout)}, "
            f"expect {scenario.expect.describe()})",
            width,
            indent="",
        )
        lines += prose(
            plan,
            f"{count(len(runs), 'run')}: {count(len(scenario.cells), 'cell')} x "
            f"{repeats_text(scenario)}"
            + ("" if len(runs) == len(scenario.cells) * scenario.repeat else " before selection"),
            width,
            indent="  ",
        )
        key_width = max(len("KEY"), *(len(run.key) for run in runs))
        repeat_width = max(len("REPEAT"), *(len(str(run.repeat)) for run in runs))
        head = f"    {'KEY'.ljust(key_width)}  {'REPEAT'.ljust(repeat_width)}  "
        below = width is not None and width - len(head) < NARROW  # payloads under their row
        lines += [head.rstrip(), "      PUBLISH_DATA_MESSAGE"] if below else [head + _PAYLOAD]
        for cell_runs in cells:
            lines += cell_heading(plan, cell_runs[0].cell, width)
            for run in cell_runs:
                first = f"    {run.key.ljust(key_width)}  {str(run.repeat).ljust(repeat_width)}  "
                if below:
                    lines.append(first.rstrip())
                    lines += payload_lines(plan, run, width, "      ", "      ")
                else:
                    lines += payload_lines(plan, run, width, first, " " * len(first))
    if plan.rooms:
        lines.append("")
        lines.append("Rooms")
        for name, spec in plan.rooms.items():
            capacity = f", at most {spec.capacity} at once" if spec.capacity else ""
            needs = ""
            if spec.env_names:
                status = [f"{n} ({_env_state(n, spec)})" for n in spec.env_names]
                needs = f"; needs {', '.join(status)}"
            used = counts["by_room"].get(name, 0)
            text = f"{name}: {spec.source}{capacity}; {count(used, 'run')}{needs}"
            lines += prose(plan, text, width, indent="  ")
    return plan.secrets.redact_text("\n".join(lines) + "\n")


def grouped(plan: Plan) -> Iterator[tuple[PlannedScenario, list[list[PlannedRun]]]]:
    """Each scenario with runs in the plan, and its runs by cell, in plan order."""
    by_scenario: dict[str, list[list[PlannedRun]]] = {}
    for run in plan.runs:
        cells = by_scenario.setdefault(run.scenario, [])
        if cells and cells[-1][0].cell is run.cell:  # a cell's runs are one after another
            cells[-1].append(run)
        else:
            cells.append([run])
    for scenario in plan.scenarios:
        if scenario.name in by_scenario:
            yield scenario, by_scenario[scenario.name]


def suite_heading(plan: Plan, word: str, width: int | None, end: str = "") -> list[str]:
    """`Suite NAME (FILE), environment E, agent A`, wrapped."""
    env = f", environment {plan.environment}" if plan.environment else ""
    agent = plan.agent if plan.agent is None or str(plan.agent) not in plan.secrets else MASK
    agent_text = f", agent {agent}" if agent is not None else ""
    text = f"{word} {plan.suite_name} ({plan.suite_file}){env}{agent_text}{end}"
    return prose(plan, text, width, indent="")


def scenario_id(plan: Plan, scenario: PlannedScenario) -> Any:
    return MASK if str(scenario.id) in plan.secrets else scenario.id


def cell_heading(plan: Plan, cell: Mapping[str, Any], width: int | None) -> list[str]:
    """`  cell locale=en-US persona=polite`, every value in full (wrapped between values);
    nothing for the one cell of a scenario without a matrix."""
    if not cell:
        return []
    pieces = [shown(plan, cell_label({key: value})) + " " for key, value in cell.items()]
    return hanging(pieces, width, "  cell ", "       ")


def payload_lines(
    plan: Plan, run: PlannedRun, width: int | None, first: str, rest: str
) -> list[str]:
    """The run's publish_data_message (masked), after `first`, wrapped under `rest`."""
    if run.shown_payload is None:
        return [first + "-"]
    text = shown(plan, json_line(run.shown_payload))
    return hanging(json_pieces(text), width, first, rest)


def prose(plan: Plan, text: str, width: int | None, *, indent: str) -> list[str]:
    """A line of fields (`a, b; c  d`), masked, wrapped between fields (between words in a
    field too long for a line) under a hanging indent of 2 more."""
    column = None if width is None else width - len(indent) - 2
    pieces: list[str] = []
    for field in _FIELD.findall(shown(plan, text)):
        if column is not None and len(field.rstrip()) > column:
            pieces += _WORD.findall(field)
        else:
            pieces.append(field)
    return hanging(pieces, width, indent, indent + "  ")


def sentences(plan: Plan, text: str, width: int | None) -> list[str]:
    """Sentences, masked, wrapped between words with no indent."""
    return hanging(_WORD.findall(shown(plan, text)), width, "", "")


_FIELD = re.compile(r".+?(?:[,;] +|  +|$)", re.S)
_WORD = re.compile(r"\S+\s*|\s+")


def shown(plan: Plan, text: str) -> str:
    """Text as it may be shown: secrets masked, control and bidi characters escaped."""
    return visible(plan.secrets.redact_text(text))


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _env_state(name: str, spec: RoomSpec) -> str:
    """Whether the variable `name`, which the room `spec` reads, is set (in the words of
    the dry run's list of secrets)."""
    if name in spec.missing_env:
        return "not set"
    return "not set, optional" if name in spec.optional_unset else "set"


def repeats_text(scenario: PlannedScenario) -> str:
    """`3 repeats`; for a sequential scenario `3..20 repeats, sent in order until decided`."""
    if scenario.repeat_min is None:
        return count(scenario.repeat, "repeat")
    return f"{scenario.repeat_min}..{scenario.repeat} repeats, sent in order until decided"
