"""YAML syntax errors carry a one-line hint at their usual cause, located where the
mistake is."""

from __future__ import annotations

import pytest

from specrunner.errors import Diagnostic, SuiteError
from specrunner.suite import yaml_hints
from specrunner.suite.load import load_text
from specrunner.suite.yaml_hints import syntax_hint


def problem_of(text: str) -> Diagnostic:
    with pytest.raises(SuiteError) as caught:
        load_text(text, "s.yaml")
    (problem,) = caught.value.diagnostics
    return problem


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("name: Note: this\n", (1, 11), yaml_hints.COLON),
        ("s:\n  - id: 30\n    title: Refund: full\n", (3, 18), yaml_hints.COLON),
        ("name: café: x\n", (1, 11), yaml_hints.COLON),
        ("version: 1\r\nname: a: b\r\n", (2, 8), yaml_hints.COLON),
        ("name: checkout\n  version: 1\n", (2, 10), yaml_hints.INDENTED_UNDER_VALUE),
        ("version: 1\nrooms:\n\tlab: x\n", (3, 1), yaml_hints.TAB),
        ("rooms:\n  lab:\n  \tsource: x\n", (3, 3), yaml_hints.TAB),
        ("version: 1\nname\nrooms: {}\n", (2, 1), yaml_hints.NO_COLON),
        ("a: |\n x\n  y\nb\n", (4, 1), yaml_hints.NO_COLON),
        ("rooms:\n  lab:\n    source: static\n   url: x\n", (4, 4), yaml_hints.INDENTATION),
        ("rooms:\n  - a\n  b: 1\n", (3, 3), yaml_hints.INDENTATION),
        ("rooms: - a\n", (1, 8), yaml_hints.LIST_AFTER_KEY),
        ('name: "abc\nversion: 1\n', (1, 7), yaml_hints.UNCLOSED_QUOTE),
        ("name: 'abc\n\nversion: 1\n", (1, 7), yaml_hints.UNCLOSED_QUOTE),
        ('name: "a\\qb"\n', (1, 9), yaml_hints.ESCAPE),
        ("a: *nope\n", (1, 4), yaml_hints.ALIAS),
        ("name: @foo\n", (1, 7), "a plain value cannot start with @: quote the value"),
        ("name: `foo`\n", (1, 7), "a plain value cannot start with `: quote the value"),
        ("a: 1\n...\nb: 2\n", (3, 1), yaml_hints.USUAL),
    ],
)
def test_the_hint_names_the_usual_cause(text: str, where: tuple[int, int], hint: str) -> None:
    problem = problem_of(text)
    assert problem.message.startswith("YAML syntax error: ")
    assert (problem.line, problem.col) == where
    assert problem.hint == hint
    assert "\n" not in problem.hint


def test_an_unclosed_bracket_names_the_line_it_opened_on() -> None:
    problem = problem_of("version: 1\nrooms: {lab: 1\nname: x\n")
    assert (problem.line, problem.col) == (3, 5)
    assert problem.hint.startswith("the '{' of line 2 is not closed or lacks a ','")
    problem = problem_of("tags: [a, b\nname: x\n")
    assert problem.hint.startswith("the '[' of line 1 is not closed")


def test_a_key_without_its_colon_is_located_at_the_key_not_at_the_end_of_the_file() -> None:
    problem = problem_of("version: 1\nscenarios:\n  - id: 30\n    description\n      text\n")
    assert (problem.line, problem.col) == (4, 5)
    assert problem.message == (
        "YAML syntax error: could not find expected ':' (while scanning a simple key)"
    )


def test_an_unquoted_template_gets_a_hint_to_quote_it() -> None:
    problem = problem_of("version: 1\nvars:\n  store: {{ vars.x }}\n")
    assert problem.message == "a mapping key must be a plain string, not a list or mapping"
    assert problem.hint == yaml_hints.TEMPLATE_KEY
    in_a_list = problem_of("tags: [a, {{ vars.x }}]\n")
    assert in_a_list.hint == yaml_hints.TEMPLATE_KEY


def test_a_mapping_used_as_a_key_on_purpose_gets_no_template_hint() -> None:
    problem = problem_of("? {a: 1}\n: b\n")
    assert problem.message == "a mapping key must be a plain string, not a list or mapping"
    assert problem.hint == ""


def test_problems_that_are_not_syntax_have_no_hint() -> None:
    problem = problem_of("a: 1\na: 2\n")
    assert problem.message.startswith("duplicate key 'a'")
    assert problem.hint == ""


@pytest.mark.parametrize(
    ("problem", "line", "hint"),
    [
        # PyYAML's pure-Python parser words some problems differently from libyaml.
        ("mapping values are not allowed here", "title: a: b", yaml_hints.COLON),
        ("found character '\\t' that cannot start any token", "\tx: 1", yaml_hints.TAB),
        ("expected <block end>, but found '<block mapping start>'", " a: 1", "check the"),
    ],
)
def test_the_pure_python_parser_s_words_get_the_same_hints(
    problem: str, line: str, hint: str
) -> None:
    col = line.index(":", line.index(":") + 1) + 1 if line.count(":") > 1 else 1
    assert syntax_hint(line + "\n", problem, 1, col).startswith(hint)
