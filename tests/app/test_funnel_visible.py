"""The error funnel shows control and bidi characters from servers and suites as escapes:
`specrunner: error: ...`, diagnostics, their count line and the notes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import write_suite
from specrunner.app.funnel import guard
from specrunner.cli import main
from specrunner.errors import Diagnostic, RemoteError, SpecrunnerError, SuiteError, UsageError

CONTROLS = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A)]
CONTROLS += [chr(0x7F)] + [chr(c) for c in range(0x80, 0xA0)]
BIDI = list("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
UNSAFE_RE = re.compile("[" + re.escape("".join(CONTROLS + BIDI)) + "]")
ATTACK = "401: \x1b[2J\x1b]0;pwned\x07 \u202eevil"
SHOWN = "401: \\x1b[2J\\x1b]0;pwned\\x07 \\u202eevil"


def messages_of(error: BaseException) -> tuple[int, list[str]]:
    messages: list[str] = []

    def action() -> None:
        raise error

    return guard(action, messages.append), messages


@pytest.mark.parametrize(
    ("error", "code"), [(UsageError(ATTACK), 2), (RemoteError(f"Cekura refused: {ATTACK}"), 3)]
)
def test_an_error_message_from_a_server_is_shown_escaped(error: SpecrunnerError, code: int) -> None:
    error.add_note(f"the run directory: runs/{ATTACK}")
    exit_code, messages = messages_of(error)
    assert exit_code == code
    assert messages[0].startswith("specrunner: error: ")
    assert messages[0].endswith(SHOWN)
    assert messages[1] == f"the run directory: runs/{SHOWN}"
    for message in messages:
        assert "\x1b" not in message and "\x07" not in message and "\u202e" not in message
        assert not UNSAFE_RE.search(message), repr(message)


def test_diagnostics_and_their_count_are_shown_escaped() -> None:
    error = SuiteError(
        [
            Diagnostic("s\u202euite.yaml", 1, 2, f"unknown key {ATTACK!r}"),
            Diagnostic("b.yaml", 3, 4, ATTACK),
        ]
    )
    exit_code, messages = messages_of(error)
    assert exit_code == 2
    assert messages == [
        "b.yaml:3:4: " + SHOWN,
        "s\\u202euite.yaml:1:2: unknown key '401: \\x1b[2J\\x1b]0;pwned\\x07 \\u202eevil'",
        "2 errors in b.yaml, s\\u202euite.yaml",
    ]


def test_interrupt_notes_and_internal_errors_are_shown_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    interrupt = KeyboardInterrupt()
    interrupt.add_note(ATTACK)
    assert messages_of(interrupt) == (130, ["specrunner: interrupted", SHOWN])
    crash = RuntimeError(ATTACK)
    crash.add_note(ATTACK)
    code, messages = messages_of(crash)
    assert code == 4
    assert messages[-1] == SHOWN
    assert not any(UNSAFE_RE.search(m) for m in messages)


@pytest.mark.parametrize("ch", CONTROLS + BIDI, ids=lambda ch: f"U+{ord(ch):04X}")
def test_each_character_is_shown_as_an_escape(ch: str) -> None:
    code = ord(ch)
    escape = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    _, messages = messages_of(UsageError(f"a{ch}b"))
    assert messages == [f"specrunner: error: a{escape}b"]


def test_newlines_tabs_and_ordinary_unicode_are_kept() -> None:
    text = "Crème brûlée —\t東京 🍕👍🏽\nעברית"
    _, messages = messages_of(RemoteError(text))
    assert messages == [f"specrunner: error: {text}"]


def test_a_suite_file_name_with_a_bidi_override_reaches_the_terminal_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file name is printed as it is in every diagnostic (a key is quoted with repr).
    monkeypatch.chdir(tmp_path)
    write_suite(tmp_path, "version: 1\nname: mini\nbogus: x\n", name="evil\u202elmy.yaml")
    result = CliRunner().invoke(main, ["validate", "evil\u202elmy.yaml"], prog_name="specrunner")
    assert result.exit_code == 2, result.output
    assert "\u202e" not in result.output
    assert "evil\\u202elmy.yaml:3:1: unknown key 'bogus'" in result.output
    assert result.output.rstrip().endswith("errors in evil\\u202elmy.yaml")
