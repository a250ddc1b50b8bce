"""Write a report in the format its path's extension names: .json, .html, .xml, .md."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from specrunner.errors import UsageError
from specrunner.report.html import render_html
from specrunner.report.junit import render_junit
from specrunner.report.markdown import render_markdown
from specrunner.report.records import Report

Renderer = Callable[[Report], str]


def render_json(report: Report) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def renderers() -> dict[str, Renderer]:
    """Extension -> renderer, for the formats this build can write."""
    return {
        ".json": render_json,
        ".html": render_html,
        ".xml": render_junit,
        ".md": render_markdown,
    }


def check_outputs(paths: Sequence[str]) -> None:
    """Refuse, before anything runs, a path whose format cannot be written."""
    known = renderers()
    for path in paths:
        if Path(path).suffix.lower() not in known:
            formats = ", ".join(sorted(known))
            raise UsageError(f"-o {path}: the extension names no report format ({formats})")


def write_reports(report: Report, paths: Sequence[Path]) -> None:
    known = renderers()
    for path in paths:
        text = known[path.suffix.lower()](report)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
