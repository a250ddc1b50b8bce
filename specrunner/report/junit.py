"""The JUnit XML view of a report, for CI: one test case per cell.

A cell is a test case (class name: the scenario; name: the cell label), failed when it does
not meet its expect rule; the failure lists each run's outcome and why it did not pass.
Cekura's ids are properties, so a CI page links a red cell back to its runs.

ElementTree escapes text and attributes. It does not refuse characters that XML 1.0
cannot hold at all (most control characters), which an error message from Cekura may
contain; those are replaced, so one odd byte cannot make the whole file unreadable. The
other control characters XML allows (carriage return, DEL, C1) and the bidi controls are
shown as escapes (`specrunner.text.visible`), so a CI log or page shows them, not obeys them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from specrunner.report.records import Report, ReportCell, ReportRun
from specrunner.report.wording import expect_text, one_line, run_reason, sequential_text
from specrunner.text import visible

MAX_REASON = 1000
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(report: Report) -> str:
    runs = {run["key"]: run for run in report["runs"]}
    suite_name = report["suite"]["name"]
    cells = report["cells"]
    failures = sum(not cell["met"] for cell in cells)
    unneeded = [cell for cell in cells if cell["outcomes"].get("not_needed")]
    tests = len(cells) + len(unneeded)
    total_time = _seconds(run.get("duration_seconds") for run in report["runs"])
    plan = report.get("plan")

    root = ET.Element(
        "testsuites",
        _attrs(name=suite_name, tests=tests, failures=failures, errors=0, time=total_time),
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        _attrs(
            name=suite_name,
            tests=tests,
            failures=failures,
            errors=0,
            skipped=len(unneeded),
            time=total_time,
            timestamp=report["finished_at"],
        ),
    )
    _properties(
        suite,
        {
            "suite.file": report["suite"]["file"],
            "environment": report["environment"],
            "git.commit": report["git"]["commit"],
            "selection.shard": report["selection"]["shard"],
            "merge.shards": _listed(plan.get("merged") if plan is not None else None),
            "merge.missing": _listed(plan.get("missing") if plan is not None else None),
            "specrunner": report["specrunner"],
        },
    )
    for cell in cells:
        members = [runs[key] for key in cell["keys"] if key in runs]
        suite.append(_testcase(cell, members))
        if cell["outcomes"].get("not_needed"):
            suite.append(_not_needed(cell))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _testcase(cell: ReportCell, runs: Sequence[ReportRun]) -> ET.Element:
    label = cell["label"]
    case = ET.Element(
        "testcase",
        _attrs(
            classname=cell["scenario"],
            name=cell["scenario"] if label == "-" else label,
            time=_seconds(run.get("duration_seconds") for run in runs),
        ),
    )
    properties: dict[str, Any] = {"scenario_id": cell["scenario_id"]}
    if cell["flaky"]:
        properties["flaky"] = "true"
    sequence = cell.get("sequential")
    if sequence is not None:
        properties["sequential.sent"] = f"{sequence['sent']} of {sequence['max']}"
        properties["sequential.stopped"] = sequence["stopped"]
        properties["sequential.reason"] = sequence["reason"]
    for run in runs:
        if run["outcome"] == "not_needed":
            continue
        properties[f"run.{run['key']}.run_id"] = run["run_id"]
        properties[f"run.{run['key']}.result_id"] = run["result_id"]
    _properties(case, properties)
    if not cell["met"]:
        failure = ET.SubElement(
            case, "failure", _attrs(message=failure_message(cell), type="expect")
        )
        failure.text = _xml_text(
            "\n".join(_run_line(run) for run in runs if run["outcome"] != "not_needed")
        )
    return case


def _not_needed(cell: ReportCell) -> ET.Element:
    """The runs a sequential cell did not need, as one skipped test case beside the cell's
    own (which passes or fails on the runs it sent)."""
    label = cell["scenario"] if cell["label"] == "-" else cell["label"]
    count = cell["outcomes"].get("not_needed", 0)
    case = ET.Element(
        "testcase", _attrs(classname=cell["scenario"], name=f"{label} (runs not needed)")
    )
    message = f"{count} run{'s' if count != 1 else ''} not needed; {sequential_text(cell)}"
    ET.SubElement(case, "skipped", _attrs(message=message))
    return case


def failure_message(cell: ReportCell) -> str:
    """`2 of 3 runs passed; expect pass_rate 1`."""
    return (
        f"{cell['outcomes']['passed']} of {cell['runs']} runs passed; "
        f"expect {expect_text(cell['expect'])}"
    )


def _run_line(run: ReportRun) -> str:
    reason = run_reason(run)
    line = f"repeat {run['repeat']} (key {run['key']}): {run['outcome']}"
    return line + (f" - {one_line(reason, MAX_REASON)}" if reason else "")


def _properties(parent: ET.Element, values: Mapping[str, Any]) -> None:
    shown = {name: value for name, value in values.items() if value is not None}
    if not shown:
        return
    element = ET.SubElement(parent, "properties")
    for name, value in shown.items():
        ET.SubElement(element, "property", _attrs(name=name, value=value))


def _listed(values: Sequence[str] | None) -> str | None:
    """A list as one property value (`1/3, 2/3`), or None (no property) when empty."""
    return ", ".join(values) if values else None


def _attrs(**values: Any) -> dict[str, str]:
    return {name: _xml_text(str(value)) for name, value in values.items() if value is not None}


def _xml_text(text: str) -> str:
    return visible(_NOT_XML.sub("\ufffd", text))


def _seconds(durations: Iterable[float | None]) -> str | None:
    """The sum of the durations that are known, or None when none is."""
    known = [d for d in durations if d is not None]
    return f"{sum(known):.3f}" if known else None
