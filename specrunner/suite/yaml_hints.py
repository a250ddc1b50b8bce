"""A YAML syntax error as a located problem, with a one-line hint at its usual cause.

The parser says where it stopped, in its own words ("mapping values are not allowed in
this context"); a newcomer needs the mistake that usually leads there: wrong indentation,
a tab, a `: ` inside an unquoted value, a template not in quotes. The hint looks at the
parser's problem and at the line it points at, and never quotes the line (the line is
shown above it).
"""

from __future__ import annotations

import yaml

from specrunner.errors import Diagnostic
from specrunner.source_lines import split_lines

# Problems the parser notices only at a later line (often the end of the file), whose
# mistake is where it was reading from: a key without its colon, a quote not closed.
_AT_CONTEXT = ("could not find expected ':'", "found unexpected end of stream")

TAB = "YAML indents with spaces only: replace the tab character on this line with spaces"
COLON = "a value holding ': ' must be quoted: title: \"Refund: full\""
INDENTED_UNDER_VALUE = (
    "check the indentation: this line is indented under a value that is not a mapping "
    "(or a value before it holds ': ' and needs quotes)"
)
INDENTATION = (
    "check the indentation: the keys of one mapping, and the '- ' items of one list, "
    "start in the same column, indented with spaces"
)
LIST_AFTER_KEY = "a list starts on the line after its key, each item indented: '  - item'"
UNCLOSED_FLOW = (
    "{opened} is not closed or lacks a ',' between items, or a value in it holds ',', ': ' "
    "or '{{{{' and needs quotes (\"{{{{ vars.name }}}}\")"
)
NO_COLON = (
    "this key has no ': ' after it; a text on several lines must be quoted or indented "
    "under its key"
)
UNCLOSED_QUOTE = "this quote is not closed: end the text with the same quote character"
ESCAPE = (
    'in double quotes a backslash starts an escape (\\n, \\t, \\"): write \\\\ for a '
    "backslash, or use single quotes"
)
ALIAS = "*NAME repeats an anchor &NAME set above it; quote a value that starts with *"
USUAL = (
    "the usual causes: wrong indentation, a tab character, or ': ' or ' #' inside an "
    "unquoted value (quote the value)"
)
TEMPLATE_KEY = "a value that starts with '{{' must be quoted: key: \"{{ vars.name }}\""


def syntax_diagnostic(path: str, exc: yaml.MarkedYAMLError, text: str) -> Diagnostic:
    """The parser's error `exc` on `text` (the file `path`), located and with its hint."""
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark is not None and (exc.problem or "") in _AT_CONTEXT:
        mark = exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or "invalid YAML"
    message = f"YAML syntax error: {problem}"
    context_line = 0
    if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        context_line = exc.context_mark.line + 1
        message += f" ({exc.context} at line {context_line})"
    elif exc.context:
        message += f" ({exc.context})"
    hint = syntax_hint(text, problem, line, col, exc.context or "", context_line)
    return Diagnostic(path, line, col, message, hint=hint)


def syntax_hint(
    text: str, problem: str, line: int, col: int, context: str = "", context_line: int = 0
) -> str:
    """The hint for the parser's `problem` at `line`:`col` (1-based) of `text`, where it
    was reading `context` (started at `context_line`)."""
    lines = split_lines(text)
    here = lines[line - 1] if 1 <= line <= len(lines) else ""
    before = lines[context_line - 1] if 1 <= context_line <= len(lines) else ""
    found = here[col - 1] if 1 <= col <= len(here) else ""
    if found == "\t" or _tab_indented(here) or _tab_indented(before):
        return TAB
    if "mapping values are not allowed" in problem:
        return COLON if ": " in here[: col - 1].lstrip(" -") else INDENTED_UNDER_VALUE
    if "could not find expected ':'" in problem:
        return NO_COLON
    if "block sequence entries are not allowed" in problem:
        return LIST_AFTER_KEY
    if any(words in problem for words in ("expected key", "'-' indicator", "expected <block end>")):
        return INDENTATION
    if "',' or '}'" in problem or "',' or ']'" in problem:
        bracket = "{" if "'}'" in problem else "["
        opened = f"the '{bracket}' of line {context_line}" if context_line else f"a '{bracket}'"
        return UNCLOSED_FLOW.format(opened=opened)
    if "end of stream" in problem and "quoted scalar" in context:
        return UNCLOSED_QUOTE
    if "unknown escape" in problem:
        return ESCAPE
    if "undefined alias" in problem:
        return ALIAS
    if "cannot start any token" in problem and found in ("@", "`", "%"):
        return f"a plain value cannot start with {found}: quote the value"
    return USUAL


def _tab_indented(line: str) -> bool:
    return "\t" in line[: len(line) - len(line.lstrip(" \t"))]
