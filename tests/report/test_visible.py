"""Control and bidi characters from servers and suites are shown, never obeyed: the one
function (`specrunner.text.visible`) and every text view that uses it."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from report_factory import make_report

from specrunner.models import Snapshot
from specrunner.report.console import console_summary
from specrunner.report.html import script_json
from specrunner.report.junit import render_junit
from specrunner.report.markdown import md, render_markdown
from specrunner.report.progress import PlainProgress
from specrunner.report.records import Report
from specrunner.report.wording import one_line
from specrunner.text import visible, visible_in_json

# C0 but newline and tab, DEL, C1.
CONTROLS = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A)]
CONTROLS += [chr(0x7F)] + [chr(c) for c in range(0x80, 0xA0)]
BIDI = list("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
UNSAFE = CONTROLS + BIDI
UNSAFE_RE = re.compile("[" + re.escape("".join(UNSAFE)) + "]")
ORDINARY = "Crème brûlée, naïve café — 東京の注文 🍕👍🏽 Ελληνικά עברית العربية"
PWNED = "\x1b[2J\x1b]0;pwned\x07 \u202eevil"


def escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def ids(ch: str) -> str:
    return f"U+{ord(ch):04X}"


# ---- the function -------------------------------------------------------------------------


@pytest.mark.parametrize("ch", UNSAFE, ids=ids)
def test_each_control_and_bidi_character_is_shown_as_an_escape(ch: str) -> None:
    assert visible(f"a{ch}b") == f"a{escape(ch)}b"


def test_newlines_and_tabs_stay() -> None:
    assert visible("line one\n\tline two\n") == "line one\n\tline two\n"


def test_a_terminal_attack_is_shown_whole() -> None:
    assert visible(PWNED) == "\\x1b[2J\\x1b]0;pwned\\x07 \\u202eevil"


def test_ordinary_unicode_is_left_alone() -> None:
    assert visible(ORDINARY) == ORDINARY
    assert one_line(ORDINARY) == ORDINARY
    # Printable neighbours of the ranges, and joiners emoji need, are not touched.
    others = "\x20\x7e\xa0\xa9\u200b\u200c\u200d\u2029\u2070\ufeff"
    assert visible(others) == others


# ---- one_line: the same escapes as before, and now the bidi controls ----------------------


@pytest.mark.parametrize("ch", UNSAFE, ids=ids)
def test_one_line_folds_whitespace_and_escapes_the_rest(ch: str) -> None:
    expected = "a b" if ch.isspace() else f"a{escape(ch)}b"
    assert one_line(f"a{ch}b") == expected


def test_one_line_keeps_its_earlier_escapes() -> None:
    assert one_line("\x00\x07\x1b[31m\x7f\x9b") == "\\x00\\x07\\x1b[31m\\x7f\\x9b"


# ---- the views ----------------------------------------------------------------------------


def hostile_report(ch: str) -> Report:
    """A report whose suite name, environment, scenario, cell label and run error each
    carry `ch` (and the terminal attack)."""
    report = make_report([["failed", "error"]], error=f"Cekura said {ch} {PWNED}")
    report["suite"]["name"] = f"suite{ch}name"
    report["environment"] = f"env{ch}x"
    for cell in report["cells"]:
        cell["scenario"] = f"scen{ch}ario"
        cell["label"] = f"la{ch}bel"
    for run in report["runs"]:
        run["scenario"] = f"scen{ch}ario"
    return report


def shown(ch: str) -> str:
    """How a view that makes text one line shows `x{ch}y`."""
    return "x y" if ch.isspace() else f"x{escape(ch)}y"


@pytest.mark.parametrize("ch", UNSAFE, ids=ids)
def test_console_shows_every_character_escaped(ch: str) -> None:
    lines = console_summary(hostile_report(ch))
    joined = "\n".join(lines)
    assert not UNSAFE_RE.search(joined), repr(joined)
    assert f"env{shown(ch)[1:-1]}x" in joined
    assert "\\x1b]0;pwned\\x07 \\u202eevil" in joined


@pytest.mark.parametrize("ch", UNSAFE, ids=ids)
def test_markdown_shows_every_character_escaped(ch: str) -> None:
    text = render_markdown(hostile_report(ch))
    assert not UNSAFE_RE.search(text), repr(text)
    # Markdown escapes the backslash of the escape, so the page shows `\x1b`.
    assert f"env{shown(ch)[1:-1].replace(chr(92), chr(92) * 2)}x" in text
    assert "\\\\x1b\\]0;pwned\\\\x07 \\\\u202eevil" in text
    assert md(f"a{ch}b") == ("a b" if ch.isspace() else f"a\\{escape(ch)}b")


@pytest.mark.parametrize("ch", UNSAFE, ids=ids)
def test_junit_shows_every_character_escaped_or_replaced(ch: str) -> None:
    text = render_junit(hostile_report(ch))
    assert not UNSAFE_RE.search(text), repr(text)
    root = ET.fromstring(text)
    # In attributes, what XML 1.0 cannot hold is replaced (as before); the rest is escaped.
    in_xml = ch == "\r" or ord(ch) >= 0x7F
    replaced = escape(ch) if in_xml else "\ufffd"
    assert root.attrib["name"] == f"suite{replaced}name"
    every = "".join(
        "".join(e.attrib.values()) + (e.text or "") for e in root.iter() if e.tag != "testsuites"
    )
    assert not UNSAFE_RE.search(every), repr(every)
    failure = root.find("./testsuite/testcase/failure")
    assert failure is not None and failure.text is not None
    assert f"Cekura said {escape(ch) if not ch.isspace() else ''}" in failure.text
    assert "\\x1b]0;pwned\\x07 \\u202eevil" in failure.text


def test_progress_shows_a_message_escaped() -> None:
    stream = io.StringIO()
    view = PlainProgress(stream)
    view.update(Snapshot(1, {}, 0, 0, 0.0, message=f"polling failed for now: {PWNED}\r"))
    out = stream.getvalue()
    assert not UNSAFE_RE.search(out), repr(out)
    assert "polling failed for now: \\x1b[2J\\x1b]0;pwned\\x07 \\u202eevil\\x0d\n" in out


def test_html_data_shows_bidi_controls_escaped() -> None:
    data = script_json({"error": f"x{''.join(BIDI)}y {ORDINARY}", "n": 1})
    assert not re.search("[" + "".join(BIDI) + "]", data)
    decoded = json.loads(data)
    assert decoded["error"] == "x" + "".join(escape(ch) for ch in BIDI) + f"y {ORDINARY}"
    assert decoded["n"] == 1


_PAGE_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # beyond 64 bits: json writes them
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e-05, 1e-07, 1e16, -0.0])
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"])),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(_PAGE_VALUES)
def test_the_page_s_data_is_json_the_page_parses_to_the_same_values(value: object) -> None:
    data = script_json(value)
    assert not re.search("[<>&" + "".join(BIDI) + "]", data)
    # What JSON.parse gives is what json reads (both read \u003c as <), once bidi
    # controls, shown escaped, are taken as the text they show.
    expected = json.loads(visible_in_json(json.dumps(value, ensure_ascii=False)))
    assert json.loads(data) == expected


def test_a_nan_on_the_page_is_null_which_json_parse_reads() -> None:
    assert json.loads(script_json({"d": float("nan"), "e": [float("inf")]})) == {
        "d": None,
        "e": [None],
    }


def test_ordinary_unicode_reaches_every_view_unchanged() -> None:
    report = make_report([["failed", "error"]], error=f"Cekura said {ORDINARY}")
    report["suite"]["name"] = "東京-suite 🍕"
    assert ORDINARY in "\n".join(console_summary(report))
    assert "東京-suite 🍕" in render_markdown(report)
    assert ORDINARY in render_markdown(report)
    junit = render_junit(report)
    assert ORDINARY in junit and "東京-suite 🍕" in junit
