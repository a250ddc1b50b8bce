"""Wording the report views share: rules, rates, counts, reasons, one-line text."""

from __future__ import annotations

import re
from typing import Any

from specrunner.judge import OUTCOMES
from specrunner.models import Expectation
from specrunner.report.records import ExpectRule, OutcomeCounts, ReportCell, ReportRun
from specrunner.text import counted, visible


def expect_text(expect: ExpectRule) -> str:
    """A cell's rule as the suite writes it: `pass_rate 0.66`, `min_passes 4`,
    `pass_rate 0.9, confidence 0.95`."""
    return Expectation(
        pass_rate=expect.get("pass_rate", 1.0),
        min_passes=expect.get("min_passes"),
        confidence=expect.get("confidence"),
    ).describe()


def percent(rate: float | None) -> str:
    """A rate as a percentage with one decimal at most; 100% and 0% only when exact."""
    if rate is None:
        return "-"
    text = f"{rate * 100:.1f}"
    if text == "100.0" and rate < 1:
        text = "99.9"
    elif text == "0.0" and rate > 0:
        text = "0.1"
    return text.removesuffix(".0") + "%"


def outcome_counts(runs: int, outcomes: OutcomeCounts) -> str:
    """`39 runs: 36 passed, 3 failed` (outcomes that occurred, in the usual order), then
    `; 12 not needed` for runs of sequential cells never sent (not in `runs`)."""
    parts = [
        f"{outcomes[name]} {name.replace('_', ' ')}"
        for name in OUTCOMES
        if name != "not_needed" and outcomes.get(name)
    ]
    unneeded = outcomes.get("not_needed", 0)
    return (
        counted(runs, "run")
        + (f": {', '.join(parts)}" if parts else "")
        + (f"; {unneeded} not needed" if unneeded else "")
    )


def sequential_text(cell: ReportCell) -> str | None:
    """`4 of 20 runs sent: pass rate above 0.6 at 95% confidence` for a sequential cell;
    None for another."""
    sequence = cell.get("sequential")
    if sequence is None:
        return None
    return f"{sequence['sent']} of {sequence['max']} runs sent: {sequence['reason']}"


def run_reason(run: ReportRun) -> str | None:
    """Why a run did not pass: its error, or for a failed run Cekura's explanation of its
    expected outcome."""
    if run.get("error"):
        return str(run["error"])
    expected = run.get("expected_outcome")
    if run["outcome"] == "failed" and expected and expected.get("explanation"):
        return " ".join(str(e) for e in expected["explanation"])
    return None


def one_line(value: Any, limit: int | None = None) -> str:
    """Text on one line (whitespace runs folded to a space, other control characters and
    bidi controls shown as escapes by `specrunner.text.visible`), cut to `limit`
    characters with an ellipsis."""
    text = visible(" ".join(str(value).split()))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")
_MENTION = re.compile(r"@(?=\w)")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
MAX_MARKDOWN_TEXT = 100


def md(value: Any, limit: int = MAX_MARKDOWN_TEXT) -> str:
    """Text from the suite or Cekura, safe inline and in a Markdown table cell: one line,
    HTML and Markdown characters escaped, @mentions broken by a zero-width space."""
    text = one_line(value, limit).translate(_HTML)
    text = _MARKDOWN.sub(r"\\\1", text)
    return _MENTION.sub("@\u200b", text)
