"""The source line under a located error: caret placement, cutting, masking and colour."""

from __future__ import annotations

import re

import pytest

from specrunner.diagnostic_view import (
    ELLIPSIS,
    WIDTH,
    Excerpt,
    count_line,
    error_label,
    excerpt,
    render,
    wants_colour,
)
from specrunner.errors import Diagnostic

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def caret_under(shown: Excerpt) -> str:
    """The text the caret stands under, measured in columns as a terminal draws them."""
    columns = 0
    for i, ch in enumerate(shown.text):
        if columns >= shown.caret:
            return shown.text[i:]
        columns += 2 if ch in "東京🍕" else 1
    return ""


def test_a_plain_line_is_shown_as_it_is_with_the_caret_under_the_column() -> None:
    assert excerpt("    room: labb", 11) == Excerpt("    room: labb", 10)
    assert excerpt("    room: labb", 1) == Excerpt("    room: labb", 0)


def test_a_tab_shows_as_four_spaces_and_the_caret_follows() -> None:
    shown = excerpt("\tsource: static", 2)
    assert shown == Excerpt("    source: static", 4)
    assert excerpt("\tsource: static", 1) == Excerpt("    source: static", 0)
    assert excerpt("a\tb\tc", 5) == Excerpt("a    b    c", 10)


def test_wide_characters_count_two_columns() -> None:
    line = "name: 東京: x"
    shown = excerpt(line, line.index(":", 6) + 1)
    assert shown.caret == 6 + 4
    assert caret_under(shown).startswith(": x")
    pizza = "greeting: 🍕 bad"
    shown = excerpt(pizza, pizza.index("bad") + 1)
    assert shown.caret == len("greeting: ") + 2 + 1


def test_combining_marks_take_no_column() -> None:
    line = "cafe\u0301: x"  # an e and a combining acute accent: one column
    assert excerpt(line, line.index(":") + 1).caret == 4


def test_control_and_bidi_characters_show_as_escapes_and_the_caret_follows() -> None:
    shown = excerpt("a\x1b[2Jb: x", 7)
    assert shown.text == "a\\x1b[2Jb: x"
    assert shown.caret == 9
    assert shown.text[shown.caret] == ":"
    shown = excerpt("k: \u202eevil", 5)
    assert shown.text == "k: \\u202eevil"
    assert shown.text[shown.caret] == "e"


def test_a_column_past_the_end_points_just_after_the_last_character() -> None:
    assert excerpt("key", 4) == Excerpt("key", 3)
    assert excerpt("key", 400) == Excerpt("key", 3)
    assert excerpt("", 1) == Excerpt("", 0)
    assert excerpt("key", 0) == Excerpt("key", 0)


def test_trailing_spaces_are_not_shown() -> None:
    assert excerpt("key:   ", 6) == Excerpt("key:", 5)


def test_a_long_line_is_cut_around_the_column_with_ellipses() -> None:
    line = "x" * 10_000 + "BAD" + "y" * 10_000
    shown = excerpt(line, 10_001)
    assert shown.text.startswith(ELLIPSIS) and shown.text.endswith(ELLIPSIS)
    assert len(shown.text) <= WIDTH + 2 * len(ELLIPSIS)
    assert shown.text[shown.caret :].startswith("BAD")
    # About a third of the width stands before the caret.
    assert WIDTH // 4 <= shown.caret <= WIDTH // 2


def test_a_long_line_is_cut_on_one_side_only_near_its_ends() -> None:
    line = "k: " + "v" * 500
    start = excerpt(line, 1)
    assert start.caret == 0 and not start.text.startswith(ELLIPSIS)
    assert start.text.endswith(ELLIPSIS)
    end = excerpt(line, len(line))
    assert end.text.startswith(ELLIPSIS) and not end.text.endswith(ELLIPSIS)
    assert end.text[end.caret] == "v" and end.caret == len(end.text) - 1


def test_a_line_of_megabytes_prints_as_one_short_line() -> None:
    line = "a: " + "z" * 5_000_000
    shown = excerpt(line, 2_500_000)
    assert len(shown.text) <= WIDTH + 2 * len(ELLIPSIS)


def test_a_line_of_wide_characters_is_cut_by_columns_not_characters() -> None:
    shown = excerpt("東" * 1000, 500)
    assert 2 * (len(shown.text) - 2 * len(ELLIPSIS)) <= WIDTH


def test_a_line_of_zero_width_characters_is_cut_too() -> None:
    shown = excerpt("\u0301" * 100_000 + "x", 50_000)
    assert len(shown.text) <= 4 * WIDTH + 2 * len(ELLIPSIS) + 1


SECRET = "SEKRET-TOKEN-4d2f8a9e"


def test_a_secret_on_the_line_is_masked_and_the_caret_stays_on_its_character() -> None:
    line = f'    publish_data_message: {{token: "{SECRET}", who: bad}}'
    shown = excerpt(line, line.index("bad") + 1, secrets={SECRET})
    assert SECRET not in shown.text
    assert shown.text == '    publish_data_message: {token: "***", who: bad}'
    assert shown.text[shown.caret :].startswith("bad")


def test_a_caret_inside_a_secret_points_at_its_mask() -> None:
    line = f"token: {SECRET}"
    shown = excerpt(line, line.index(SECRET) + 5, secrets={SECRET})
    assert shown == Excerpt("token: ***", 7)


@pytest.mark.parametrize("filler", [".", "\u0301"], ids=["dots", "zero-width"])
def test_no_part_of_a_secret_shows_wherever_a_long_line_is_cut(filler: str) -> None:
    # Zero-width characters take no columns: only the count of characters bounds the window.
    line = filler * 3_000 + SECRET + filler * 3_000
    at = 3_000
    # Every column from well before the secret to well after it, so that the window's
    # edges (and the edges of the part of the line looked at) fall inside the secret.
    for col in range(at - 2 * WIDTH - 60, at + len(SECRET) + 2 * WIDTH + 60, 3):
        shown = excerpt(line, col, secrets={SECRET})
        for size in range(3, len(SECRET) + 1):
            for start in range(len(SECRET) - size + 1):
                assert SECRET[start : start + size] not in shown.text, (col, shown.text)


def test_a_line_of_nothing_but_secrets_shows_nothing_but_masks() -> None:
    # Masks take few columns for many characters: the window reaches the very edges of the
    # part of the line looked at, where a secret is cut in two.
    line = SECRET * 2_000
    for col in range(len(line) // 2, len(line) // 2 + len(SECRET) + 1):
        shown = excerpt(line, col, secrets={SECRET})
        assert set(shown.text.replace(ELLIPSIS, "").replace("***", "")) == set(), shown.text
        assert shown.text.startswith(ELLIPSIS) and shown.text.endswith(ELLIPSIS)


def test_a_secret_in_the_message_or_hint_is_masked_too() -> None:
    diagnostic = Diagnostic("s.yaml", 1, 7, f"got the string '{SECRET}'", hint=f"not {SECRET}")
    lines = render(diagnostic, f"token: {SECRET}", secrets={SECRET})
    assert lines == [
        "s.yaml:1:7: got the string '***'",
        "  |",
        "1 | token: ***",
        "  |       ^",
        "  = hint: not ***",
        "",
    ]


def test_overlapping_secrets_are_masked_longest_first() -> None:
    shown = excerpt("k: abcdefgh12345678", 4, secrets={"abcdefgh", "abcdefgh12345678"})
    assert shown.text == "k: ***"


def test_render_without_colour() -> None:
    diagnostic = Diagnostic("specs/smoke.yaml", 12, 11, "unknown room 'labb'")
    assert render(diagnostic, "    room: labb") == [
        "specs/smoke.yaml:12:11: unknown room 'labb'",
        "   |",
        "12 |     room: labb",
        "   |           ^",
        "",
    ]


def test_render_with_a_hint() -> None:
    diagnostic = Diagnostic("s.yaml", 3, 1, "YAML syntax error: x", hint="replace the tab")
    assert render(diagnostic, "\tlab: x") == [
        "s.yaml:3:1: YAML syntax error: x",
        "  |",
        "3 |     lab: x",
        "  | ^",
        "  = hint: replace the tab",
        "",
    ]


def test_render_of_an_empty_line_has_no_trailing_space() -> None:
    lines = render(Diagnostic("s.yaml", 9, 1, "end of stream"), "")
    assert lines[2] == "9 |"
    assert all(line == line.rstrip() for line in lines)


def test_render_without_the_line_is_the_message_alone() -> None:
    diagnostic = Diagnostic("gone.yaml", 3, 1, "no such file")
    assert render(diagnostic, None) == ["gone.yaml:3:1: no such file"]
    hinted = Diagnostic("gone.yaml", 3, 1, "YAML syntax error", hint="check the indentation")
    assert render(hinted, None) == [
        "gone.yaml:3:1: YAML syntax error",
        "  = hint: check the indentation",
        "",
    ]


def test_render_escapes_the_file_name_message_and_hint() -> None:
    diagnostic = Diagnostic("a\u202eb.yaml", 1, 1, "bad \x1b[2J", hint="see \x07")
    lines = render(diagnostic, "x\x1b]0;t\x07", colour=True)
    plain = [ANSI.sub("", line) for line in lines]
    assert plain[0] == "a\\u202eb.yaml:1:1: bad \\x1b[2J"
    assert plain[2] == "1 | x\\x1b]0;t\\x07"
    assert plain[4] == "  = hint: see \\x07"
    for line in plain:
        assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line


def test_render_with_colour_is_the_plain_text_painted() -> None:
    diagnostic = Diagnostic("s.yaml", 3, 7, "bad value", hint="quote it")
    plain = render(diagnostic, "name: a: b")
    coloured = render(diagnostic, "name: a: b", colour=True)
    assert [ANSI.sub("", line) for line in coloured] == plain
    assert coloured != plain
    assert coloured[0].startswith("\x1b[1ms.yaml:3:7:\x1b[0m ")
    assert coloured[3].endswith("\x1b[1;31m^\x1b[0m")  # the caret in red
    assert "\x1b[1;34m3 |\x1b[0m" in coloured[2]  # the gutter in blue
    assert "\x1b[1;36m= hint:\x1b[0m" in coloured[4]
    assert ANSI.sub("", count_line("1 error in s.yaml", True)) == "1 error in s.yaml"
    assert count_line("1 error in s.yaml", False) == "1 error in s.yaml"
    assert error_label(False) == "error:"
    assert ANSI.sub("", error_label(True)) == "error:"


class Stream:
    def __init__(self, tty: bool | Exception) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        if isinstance(self.tty, Exception):
            raise self.tty
        return self.tty


@pytest.mark.parametrize(
    ("tty", "environ", "expected"),
    [
        (True, {}, True),
        (True, {"TERM": "xterm-256color"}, True),
        (True, {"NO_COLOR": ""}, True),  # set but empty: no-color.org says colour
        (True, {"NO_COLOR": "1"}, False),
        (True, {"NO_COLOR": "0"}, False),  # any non-empty value
        (True, {"TERM": "dumb"}, False),
        (False, {}, False),
        (ValueError("I/O operation on closed file"), {}, False),
    ],
)
def test_colour_only_on_a_terminal_without_no_color(
    tty: bool | Exception, environ: dict[str, str], expected: bool
) -> None:
    assert wants_colour(Stream(tty), environ) is expected
