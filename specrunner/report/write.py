"""Write a report in the format its path's extension names: .json, .html, .xml, .md."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from specrunner.errors import UsageError
from specrunner.report.json_text import ItemsJson, item_json
from specrunner.report.records import Comparison, Report
from specrunner.text import visible

if TYPE_CHECKING:
    from specrunner.report.charts import Trend

Renderer = Callable[[Report], str]
Rendered = TypeVar("Rendered")


class ReportsNotWritten(UsageError):
    """Some reports could not be written (the others were): each path and why."""

    def __init__(self, failed: Sequence[tuple[Path, str]]) -> None:
        self.failed: tuple[tuple[Path, str], ...] = tuple(failed)
        what = "; ".join(f"{path}: {why}" for path, why in self.failed)
        noun = "report" if len(self.failed) == 1 else "reports"
        super().__init__(f"could not write {len(self.failed)} {noun}: {what}")


def render_json(report: Mapping[str, object], *, runs: ItemsJson | None = None) -> str:
    """A report (or a comparison) as JSON: its fields indented, one cell or run per line
    (so that a diff of two reports shows the runs that changed, and 10,000 runs take
    json's fast path). A NaN or an infinity is an error here, never invalid JSON written.
    `runs`: the report's runs already written out (`report.build` did), when it has them.

    The pieces are joined once, at the end: a report of 10,000 runs is some 10 MB of text,
    and each join of the whole on the way would be one more copy of it."""
    parts = ["{\n"]
    for position, (key, value) in enumerate(report.items()):
        if position:
            parts.append(",\n")
        _member(parts, key, value, "  ", runs)
    parts.append("\n}\n")
    return "".join(parts)


def _member(
    parts: list[str], key: str, value: object, indent: str, written: ItemsJson | None = None
) -> None:
    """Add `"key": value` at `indent` to `parts`: a list one item per line, an object
    holding a list of objects (the plan's cells) one member per line, anything else as
    json indents it."""
    name = item_json(key)
    if isinstance(value, list) and value:
        texts = written.texts_of(value) if written is not None else None
        lines = texts if texts is not None else [item_json(item) for item in value]
        parts.append(f"{indent}{name}: [\n{indent}  ")
        between = f",\n{indent}  "
        for position, line in enumerate(lines):
            if position:
                parts.append(between)
            parts.append(line)
        parts.append(f"\n{indent}]")
    elif isinstance(value, dict) and any(_objects(v) for v in value.values()):
        parts.append(f"{indent}{name}: {{\n")
        for position, (inner, item) in enumerate(value.items()):
            if position:
                parts.append(",\n")
            if _objects(item):
                _member(parts, inner, item, indent + "  ")
            else:
                parts.append(_plain(inner, item, indent + "  "))
        parts.append(f"\n{indent}}}")
    else:
        parts.append(_plain(key, value, indent))


def _plain(key: str, value: object, indent: str) -> str:
    shown = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    return f"{indent}{item_json(key)}: " + shown.replace("\n", "\n" + indent)


def _objects(value: object) -> bool:
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


REPORT_FORMATS = (".json", ".html", ".xml", ".md")
"""The extensions of the formats a report is written in: those of `renderers`."""


def renderers(trend: Trend | None = None, runs: ItemsJson | None = None) -> dict[str, Renderer]:
    """Extension -> renderer, for the formats this build can write; the HTML report draws
    `trend` (the suite's recorded history) when given, and the JSON report writes `runs`
    (the report's runs already written out) when given."""
    # Imported here: a run checks its -o paths (`check_outputs`) before it sends anything,
    # and renders only once its runs are done.
    from specrunner.report.html import render_html
    from specrunner.report.junit import render_junit
    from specrunner.report.markdown import render_markdown

    return {
        ".json": functools.partial(render_json, runs=runs),
        ".html": functools.partial(render_html, trend=trend),
        ".xml": render_junit,
        ".md": render_markdown,
    }


def comparison_renderers() -> dict[str, Callable[[Comparison], str]]:
    """Extension -> renderer, for the formats of `specrunner compare -o`."""
    from specrunner.report.comparison_html import render_comparison_html
    from specrunner.report.comparison_markdown import render_comparison_markdown

    return {
        ".json": render_json,
        ".html": render_comparison_html,
        ".md": render_comparison_markdown,
    }


def check_outputs(
    paths: Sequence[str], known: Mapping[str, object] | None = None, *, what: str = "report"
) -> None:
    """Refuse, before anything runs, a path that cannot be written: its extension names no
    format (of `known`, by default the report's), it is a folder, a file stands where a
    folder of it should be, or its folder (or the folder it would be made in) cannot be
    written in."""
    known = dict.fromkeys(REPORT_FORMATS) if known is None else known
    for path in paths:
        if Path(path).suffix.lower() not in known:
            formats = ", ".join(sorted(known))
            raise UsageError(f"-o {path}: the extension names no {what} format ({formats})")
        problem = file_problem(Path(path))
        if problem is not None:
            raise UsageError(f"-o {path}: {problem}")


def file_problem(path: Path) -> str | None:
    """What stops a file from being written at `path`, or None when nothing does (as far
    as can be told without writing it). Nothing is made or left behind."""
    try:
        if _kind(path) == "folder":
            return f"{_shown(path)} is a folder, not a file"
        return _folder_problem(path.parent)
    except _Blocked as blocked:
        return str(blocked)


def folder_problem(folder: Path) -> str | None:
    """What stops `folder` from being made (when missing) and written in, or None.

    Each of its existing ancestors must be a folder, and the deepest existing one must
    take a new file: a temporary file is made there and removed at once. No folder is
    made."""
    try:
        return _folder_problem(folder)
    except _Blocked as blocked:
        return str(blocked)


def _folder_problem(folder: Path) -> str | None:
    missing: list[Path] = []
    current = folder
    while True:
        kind = _kind(current)
        if kind == "folder":
            break
        if kind == "other":
            return f"{_shown(current)} is a file, not a folder"
        missing.append(current)
        if current.parent == current:  # a root that does not exist
            return f"{_shown(current)} does not exist"
        current = current.parent
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".specrunner-probe-", dir=current)
    except OSError as error:
        reason = error.strerror or str(error)
        verb = "cannot make folders in" if missing else "cannot write in"
        return f"{verb} {_shown(current)} ({reason})"
    os.close(descriptor)
    with contextlib.suppress(OSError):
        Path(probe).unlink()
    return None


class _Blocked(Exception):
    """Why a path's kind cannot be told (a folder on the way that cannot be searched)."""


def _kind(path: Path) -> str:
    """What `path` is: "folder", "other" (a file, a device...) or "missing"; `_Blocked`
    when that cannot be told."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            return "missing"
        raise _Blocked(f"{_shown(path)} cannot be reached ({error.strerror or error})") from None
    except ValueError:  # an embedded NUL
        raise _Blocked(f"{_shown(path)!r} is not a usable path") from None
    return "folder" if stat.S_ISDIR(mode) else "other"


def _shown(path: Path) -> str:
    return str(path) if str(path) else "."


def write_reports(
    report: Report,
    paths: Sequence[Path],
    *,
    trend: Trend | None = None,
    runs: ItemsJson | None = None,
) -> None:
    """Write `report` to each of `paths`, in the format its extension names (the HTML
    report with the charts of `trend`, the JSON report with the text of `runs`, when
    given)."""
    write_rendered(report, paths, renderers(trend, runs))


def write_rendered(
    value: Rendered, paths: Sequence[Path], known: Mapping[str, Callable[[Rendered], str]]
) -> None:
    """Write `value` to each of `paths`, rendered as its extension names in `known`.

    Every path that can be written is written, whatever happens to the others. Then a
    `ReportsNotWritten` names those that could not be (an OSError: a folder in the way, no
    permission, a full disk); an unexpected error in rendering is raised again as it was,
    after the others were written."""
    failed: list[tuple[Path, str]] = []
    unexpected: list[Exception] = []
    for path in paths:
        partial = path.with_name(path.name + ".partial")
        try:
            text = known[path.suffix.lower()](value)
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_text(partial, text)
            partial.replace(path)
        except OSError as error:
            failed.append((path, error.strerror or str(error)))
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
        except Exception as error:  # a bug in a renderer: the other paths still get theirs
            error.add_note(f"while writing the report {path}")
            unexpected.append(error)
    if unexpected:
        for path, why in failed:
            unexpected[0].add_note(f"could not write {path}: {why}")
        raise unexpected[0]
    if failed:
        raise ReportsNotWritten(failed)


def _write_text(path: Path, text: str) -> None:
    """`path.write_text(text, encoding="utf-8")`, a slice at a time: the UTF-8 of a
    10,000-run report all at once would be 10 MB more at the top of the run's memory."""
    with path.open("w", encoding="utf-8") as file:
        for start in range(0, len(text), _SLICE):
            file.write(text[start : start + _SLICE])


_SLICE = 1 << 20


def wrote_lines(written: Sequence[str | Path], *, step_summary: bool) -> list[str]:
    """`wrote PATH` for each file written. The step summary's path is not shown: it is a
    value read from the environment, and those are never printed."""
    lines = [f"wrote {visible(str(path))}" for path in written]
    if step_summary:
        lines.append("appended the Markdown summary to $GITHUB_STEP_SUMMARY")
    return lines
