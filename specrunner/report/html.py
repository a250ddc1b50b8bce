"""The HTML report: one self-contained page (inline CSS, script and data) that works offline.

The summary is rendered here, as markup. The cells and their runs travel as JSON in the page;
its script draws the table a few hundred rows at a time and a cell's runs only when the cell
is expanded, so a report of 10,000 runs stays a light page.

Everything from the suite or from Cekura is untrusted: Jinja escapes it in the markup, the
JSON block escapes `<`, `>` and `&`, the script only ever makes text nodes, and a Content
Security Policy allows just the page's own script and style (by hash) and no network at all.
Bidi controls in the JSON block are shown as escapes (`\\u202e`); the markup keeps them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jinja2
import orjson
from markupsafe import Markup

from specrunner.judge import OUTCOMES
from specrunner.report.build import cell_key, finite_number
from specrunner.report.charts import (
    Trend,
    bin_span,
    duration_bins,
    duration_chart,
    pass_rate_chart,
    percent,
    sparkline,
    when,
)
from specrunner.report.comparison import regressed
from specrunner.report.html_changes import change_data, changes_by_cell, comparison_facts
from specrunner.report.records import ExpectRule, Report
from specrunner.report.shards import partial_note
from specrunner.report.wording import sequential_text
from specrunner.text import visible_in_json
from specrunner.version import __version__


@dataclass(frozen=True, slots=True)
class Assets:
    template: jinja2.Template
    css: Markup
    js: Markup
    csp: str


@dataclass(frozen=True, slots=True)
class Fact:
    """One labelled value of the summary; `full` is the whole value when `text` shortens it."""

    label: str
    text: str
    full: str | None = None
    mono: bool = False
    wide: bool = False
    where: bool = False
    """Where and when the run ran, not how it went: folded away on a phone."""


COUNT_COLUMNS = (
    ("runs", "Runs"),
    ("passed", "Passed"),
    ("failed", "Failed"),
    ("error", "Error"),
    ("unknown", "Unknown"),
)


def render_html(report: Report, trend: Trend | None = None) -> str:
    """The page; `trend` (the suite's recorded history) adds its charts."""
    assets = _assets()
    verdict = report["verdict"]
    cells = report["cells"]
    charts = _charts(report, trend)
    sparks = _sparklines(report, trend)
    columns = list(COUNT_COLUMNS)
    if any(cell["outcomes"].get("not_run", 0) for cell in cells):
        columns.append(("not_run", "Not run"))
    if any(cell["outcomes"].get("not_needed", 0) for cell in cells):
        columns.append(("not_needed", "Not needed"))
    page = assets.template.render(
        csp=assets.csp,
        css=assets.css,
        js=assets.js,
        version=report.get("specrunner") or __version__,
        suite=report["suite"],
        passed=bool(verdict["passed"]) and not regressed(report.get("comparison")),
        verdict_word=verdict_word(report),
        compared="comparison" in report,
        facts=_facts(report),
        outcomes=[
            (name, verdict["outcomes"].get(name, 0))
            for name in OUTCOMES
            if name != "not_needed" or verdict["outcomes"].get(name)
        ],
        metrics=sorted(verdict.get("metrics", {}).items()),
        cells=cells,
        count_columns=columns,
        tags=sorted({tag for cell in cells for tag in cell["tags"]}),
        data=Markup(_DATA),
        charts=charts,
        sparklines=sparks,
    )
    # The data (most of the page) goes in last, by itself: through the template it would
    # be copied several times over.
    before, after = page.split(_DATA, 1)
    return "".join((before, script_json(page_data(report, sparks)), after))


@dataclass(frozen=True, slots=True)
class Charts:
    """The charts of the page and their numbers, as rows of text."""

    pass_rate: Markup | None = None
    pass_rate_rows: tuple[tuple[str, ...], ...] = ()
    durations: Markup | None = None
    duration_rows: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return self.pass_rate is not None or self.durations is not None


@dataclass(frozen=True, slots=True)
class Sparkline:
    """A cell's sparkline, with its mean pass rate over the runs it draws (to sort on)."""

    svg: Markup
    mean: float | None


def _charts(report: Report, trend: Trend | None) -> Charts:
    durations = [finite_number(run.get("duration_seconds")) for run in report["runs"]]
    bins = duration_bins([float(d) for d in durations if d is not None])
    charts = Charts(
        durations=duration_chart(bins) if bins else None,
        duration_rows=tuple((bin_span(b), str(b.count)) for b in bins),
    )
    if trend is None or not trend.drawn:
        return charts
    return dataclasses.replace(
        charts,
        pass_rate=pass_rate_chart(trend.runs),
        pass_rate_rows=tuple(
            (
                when(run.finished_at),
                (run.git_commit or "—")[:12],
                "passed" if run.passed else "failed",
                f"{run.cells_passed} of {run.cells}",
                percent(run.pass_rate),
            )
            for run in reversed(trend.runs)
        ),
    )


def _sparklines(report: Report, trend: Trend | None) -> dict[int, Sparkline]:
    """The sparklines of the report's cells, by their position in it."""
    if trend is None or not trend.drawn:
        return {}
    drawn: dict[int, Sparkline] = {}
    for i, cell in enumerate(report["cells"]):
        points = trend.cells.get(cell["id"], ())
        svg = sparkline(cell["id"], points)
        if svg is None:
            continue
        rates = [p.pass_rate for p in points if p is not None and p.pass_rate is not None]
        drawn[i] = Sparkline(svg, sum(rates) / len(rates) if rates else None)
    return drawn


_DATA = "<!--specrunner:report-data-->"
"""Where the page's data goes: no escaped text can hold it (its `<` would be `&lt;`)."""


def script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element: no `<`, `>` or `&` can end it early.

    Written by orjson: a 10,000-run page's 12 MB of data in a tenth of the time json
    takes, with the same escapes and numbers of the same values. A NaN or an infinity
    (none is in a report specrunner makes or reads) is null, which the page's JSON.parse
    reads, where json would write NaN, which it refuses; what orjson refuses (an integer
    beyond 64 bits, a lone surrogate) is written by json."""
    try:
        text = orjson.dumps(value).decode("utf-8")
    except orjson.JSONEncodeError:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = visible_in_json(text)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def verdict_word(report: Report) -> str:
    """PASSED, FAILED, or REGRESSED when every cell met its rule but one regressed
    significantly against the baseline."""
    if not report["verdict"]["passed"]:
        return "FAILED"
    return "REGRESSED" if regressed(report.get("comparison")) else "PASSED"


def page_data(report: Report, sparks: Mapping[int, Sparkline] | None = None) -> dict[str, Any]:
    """What the page's script needs: each cell's values, as text to show and as values to
    sort on, with the positions of its runs (and, against a baseline, its change); and
    the runs themselves. A cell with a sparkline has its mean pass rate over the recorded
    runs as its `trend`."""
    sparks = sparks or {}
    changes = changes_by_cell(report.get("comparison"))
    runs = report["runs"]
    position: dict[str, int] = {}
    for i, run in enumerate(runs):
        position.setdefault(run["key"], i)
    cells: list[dict[str, Any]] = []
    for i, cell in enumerate(report["cells"]):
        spark = sparks.get(i)
        cells.append(
            {
                "id": cell["id"],
                "scenario": cell["scenario"],
                "scenario_id": str(cell["scenario_id"]),
                "label": cell["label"],
                "tags": list(cell["tags"]),
                "runs": cell["runs"],
                **{name: cell["outcomes"].get(name, 0) for name in OUTCOMES},
                "pass_rate": cell["pass_rate"],
                "pass_rate_text": percent(cell["pass_rate"]),
                "wilson_text": interval(cell["wilson"]),
                "expect": rule_text(cell["expect"]),
                "met": bool(cell["met"]),
                "flaky": bool(cell["flaky"]),
                "sequential": sequential_text(cell),
                "max_runs": cell["sequential"]["max"] if "sequential" in cell else None,
                "run_indices": [position[k] for k in cell["keys"] if k in position],
                **({"trend": spark.mean} if spark is not None else {}),
            }
        )
        if changes is not None:
            cells[-1].update(change_data(changes.get(cell_key(cell["scenario"], cell["cell"]))))
    return {"cells": cells, "runs": runs}


def interval(bounds: Sequence[float] | None) -> str:
    if not bounds:
        return ""
    low, high = (percent(b).removesuffix("%") for b in bounds)
    return f"{low}–{high}%"


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s"


def rule_text(expect: ExpectRule) -> str:
    if expect.get("min_passes") is not None:
        passes = expect["min_passes"]
        return f"≥ {passes} pass" if passes == 1 else f"≥ {passes} passes"
    if expect.get("pass_rate") is not None:
        confidence = expect.get("confidence")
        sure = "" if confidence is None else f" ({percent(confidence)} confidence)"
        return f"pass rate ≥ {percent(expect['pass_rate'])}{sure}"
    return json.dumps(expect, ensure_ascii=False)


def timestamp(value: str | None) -> str:
    """ISO 8601 UTC as `YYYY-MM-DD HH:MM:SS UTC`; anything else as given."""
    if not value:
        return "—"
    if len(value) == 20 and value[10] == "T" and value.endswith("Z"):
        return f"{value[:10]} {value[11:19]} UTC"
    return value


def _facts(report: Report) -> list[Fact]:
    """The summary's facts: how the run went first, then where and when it ran (folded
    away on a phone, so that the first cells are on the first screen)."""
    verdict = report["verdict"]
    durations = verdict["duration_seconds"]
    commit = report["git"]["commit"]
    selection = report["selection"]
    facts = [
        Fact("Environment", report["environment"] or "—"),
        Fact("Cells met", f"{verdict['cells_passed']} of {verdict['cells']}"),
        Fact("Flaky cells", str(verdict["flaky_cells"])),
        Fact("Runs", str(verdict["runs"])),
        *(
            [Fact("Runs not needed", str(verdict["outcomes"].get("not_needed", 0)))]
            if verdict["outcomes"].get("not_needed")
            else []
        ),
        Fact("Pass rate", percent(verdict["pass_rate"])),
        Fact(
            "Duration, median / p95",
            f"{seconds(durations['median'])} / {seconds(durations['p95'])}",
        ),
    ]
    comparison = report.get("comparison")
    if comparison is not None:
        facts += [Fact(label, text, wide=True) for label, text in comparison_facts(comparison)]
    stopped = report.get("stopped")
    if stopped:
        facts.append(Fact("Partial: stopped early", stopped, wide=True))
    missing = partial_note(report)
    if missing is not None:
        facts.append(Fact("Partial merge", missing, wide=True))
    where = [
        Fact("Finished", timestamp(report["finished_at"])),
        Fact("Started", timestamp(report["started_at"])),
        Fact("Git commit", commit[:12] if commit else "—", commit, mono=True),
        Fact("Suite file", report["suite"]["file"], mono=True),
    ]
    if selection["tags"]:
        where.append(Fact("Selected tags", ", ".join(selection["tags"])))
    if selection["scenarios"]:
        where.append(Fact("Selected scenarios", ", ".join(selection["scenarios"])))
    if selection["shard"]:
        where.append(Fact("Shard", selection["shard"]))
    plan = report.get("plan")
    if plan is not None and plan.get("merged"):
        where.append(Fact("Shards merged", ", ".join(plan.get("merged", []))))
    if report["run_dir"]:
        where.append(Fact("Run directory", report["run_dir"], mono=True, wide=True))
    return facts + [dataclasses.replace(fact, where=True) for fact in where]


@cache
def _assets() -> Assets:
    css = asset("report.css")
    js = asset("report.js")
    template = page_template("report.html.j2")
    return Assets(template=template, css=Markup(css), js=Markup(js), csp=policy([css], js))


def asset(name: str) -> str:
    """A file of `report/templates/`, as text."""
    folder = resources.files("specrunner.report").joinpath("templates")
    return folder.joinpath(name).read_text(encoding="utf-8")


def page_template(name: str) -> jinja2.Template:
    """A page's template of `report/templates/`: everything it shows is escaped, and a
    name it does not get is an error."""
    environment = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.from_string(asset(name))


def policy(styles: Sequence[str], js: str | None) -> str:
    """The pages' Content Security Policy: their own styles (and script, if any) by hash,
    not 'unsafe-inline', so that a script or handler that slipped into the markup would
    still not run; and nothing at all may be fetched."""
    script = f"script-src {_sha256(js)}; " if js is not None else ""
    hashes = " ".join(_sha256(css) for css in styles)
    return (
        f"default-src 'none'; {script}style-src {hashes}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def _sha256(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"
