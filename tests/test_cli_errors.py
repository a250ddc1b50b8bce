"""What the CLI prints for a located error: the message, the suite's line with a caret,
the hint; coloured on a terminal only; never a line of an env file or a value from env."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import MINIMAL, minimal_env, write_suite
from specrunner.app.funnel import guard
from specrunner.cli import main
from specrunner.errors import Diagnostic, SuiteError


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), prog_name="specrunner", catch_exceptions=False)


def test_a_crlf_suite_shows_its_line_without_the_carriage_return(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    text = (MINIMAL + "    repaet: 2\n").replace("\n", "\r\n")
    (tmp_path / "crlf.yaml").write_bytes(text.encode("utf-8"))
    result = cli("validate", "crlf.yaml")
    assert result.exit_code == 2
    assert "\r" not in result.output
    assert result.stderr.splitlines()[:4] == [
        "crlf.yaml:10:5: unknown key 'repaet' in scenarios[0]; did you mean 'repeat'?",
        "   |",
        "10 |     repaet: 2",
        "   |     ^",
    ]


def test_a_tab_is_shown_as_spaces_with_a_hint(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    (tmp_path / "tabs.yaml").write_text("version: 1\nrooms:\n  lab:\n  \tsource: x\n")
    result = cli("validate", "tabs.yaml")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "tabs.yaml:4:3: YAML syntax error: found character that cannot start any token "
        "(while scanning for the next token at line 4)",
        "  |",
        "4 |       source: x",
        "  |   ^",
        "  = hint: YAML indents with spaces only: replace the tab character on this line "
        "with spaces",
        "",
        "1 error in tabs.yaml",
    ]


def test_each_file_s_errors_show_that_file_s_lines(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(tmp_path, MINIMAL.replace("name: mini", "name: Mini One"), "one.yaml")
    write_suite(tmp_path, MINIMAL + "    repeat: 0\n", "two.yaml")
    result = cli("validate", "one.yaml", "two.yaml")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[1:4] == ["  |", "2 | name: Mini One", "  |       ^"]
    two = lines.index("1 error in one.yaml") + 1
    assert lines[two].startswith("two.yaml:10:13: scenarios[0].repeat: ")
    assert lines[two + 1 : two + 4] == ["   |", "10 |     repeat: 0", "   |             ^"]


def test_an_env_file_given_as_a_suite_never_has_its_lines_shown(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    # The error points at the line that holds the key: the line is not shown.
    (tmp_path / "prod.env").write_text("CEKURA_API_KEY=sk-live-0123456789\n")
    (tmp_path / "suite.yaml").write_text("CEKURA_API_KEY=sk-live-0123456789\n")
    shown = cli("validate", "suite.yaml")
    assert shown.exit_code == 2
    assert "1 | CEKURA_API_KEY=sk-live-0123456789" in shown.stderr  # a suite's line shows
    # The key is exported too, as it usually is: then the message cannot quote it either.
    clean_environ.setenv("CEKURA_API_KEY", "sk-live-0123456789")
    result = cli("validate", "prod.env")
    assert result.exit_code == 2
    assert "sk-live" not in result.output
    assert result.stderr.splitlines()[0].startswith("prod.env:1:1: ")
    assert " | " not in result.output


def test_a_value_read_from_env_is_masked_on_the_source_line(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    clean_environ.setenv("LAB_TOKEN", "tok-live-4d2f8a9e")
    write_suite(
        tmp_path,
        MINIMAL + '    publish_data_message: {t: "tok-live-4d2f8a9e", who: "{{ vars.x }}"}\n',
    )
    result = cli("plan", "suite.yaml")
    assert result.exit_code == 2
    assert "tok-live" not in result.output
    assert '10 |     publish_data_message: {t: "***", who: "{{ vars.x }}"}' in result.output


def test_a_missing_room_secret_says_to_export_it_first(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    # Nothing may be sent: the API goes to a closed port on this machine.
    clean_environ.setenv("CEKURA_API_KEY", "ck-test-key-1")
    clean_environ.setenv("CEKURA_API_URL", "http://127.0.0.1:9")
    suite = MINIMAL.replace(
        "    url: https://acme.daily.co/lab\n",
        "    url: https://acme.daily.co/lab\n    token: '{{ env.LAB_TOKEN }}'\n",
    )
    write_suite(tmp_path, suite)
    result = cli("run", "suite.yaml")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[:4] == [
        "suite.yaml:7:12: environment variable LAB_TOKEN is not set: export it first "
        "(export LAB_TOKEN=...), or, if it is optional, read it with "
        "env.get('LAB_TOKEN', default)",
        "  |",
        "7 |     token: '{{ env.LAB_TOKEN }}'",
        "  |            ^",
    ]
    assert not (tmp_path / ".specrunner").exists()


def raising(error: BaseException) -> tuple[int, list[str]]:
    lines: list[str] = []

    def action() -> None:
        raise error

    return guard(action, lines.append, environ={}), lines


def test_a_file_gone_or_changed_since_it_was_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "short.yaml").write_text("a: 1\n")
    code, lines = raising(
        SuiteError(
            [
                Diagnostic("gone.yaml", 3, 1, "unknown key 'x'"),
                Diagnostic("short.yaml", 7, 1, "past the end now"),
                Diagnostic("short.yaml", 1, 40, "a column past the end now"),
                Diagnostic("short.yaml", 0, 0, "no line at all"),
            ]
        )
    )
    assert code == 2
    assert lines == [
        "gone.yaml:3:1: unknown key 'x'",
        "short.yaml:0:0: no line at all",
        "short.yaml:1:40: a column past the end now",
        "  |",
        "1 | a: 1",
        "  |     ^",
        "",
        "short.yaml:7:1: past the end now",
        "4 errors in gone.yaml, short.yaml",
    ]


# ---- colour: on a terminal only -------------------------------------------------------------


def on_a_terminal(args: list[str], cwd: Path, extra_env: dict[str, str]) -> str:
    """Run the CLI with a pseudo-terminal as its stdout and stderr; what it printed."""
    master, slave = os.openpty()
    env = {**minimal_env(), "TERM": "xterm-256color", **extra_env}
    process = subprocess.Popen(
        [sys.executable, "-m", "specrunner", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        process.wait(timeout=30)
        os.close(master)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


needs_a_pty = pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals")


@pytest.fixture
def bad_suite(tmp_path: Path) -> Path:
    write_suite(tmp_path, MINIMAL + "    repaet: 2\n", "bad.yaml")
    return tmp_path


@needs_a_pty
def test_on_a_terminal_errors_are_coloured(bad_suite: Path) -> None:
    output = on_a_terminal(["validate", "bad.yaml"], bad_suite, {})
    assert "\x1b[1mbad.yaml:10:5:\x1b[0m unknown key 'repaet'" in output
    assert "\x1b[1;31m^\x1b[0m" in output
    assert "\x1b[1;31m1 error in bad.yaml\x1b[0m" in output


@needs_a_pty
@pytest.mark.parametrize("value", ["1", "true", "0"])
def test_no_color_turns_colour_off_on_a_terminal(bad_suite: Path, value: str) -> None:
    output = on_a_terminal(["validate", "bad.yaml"], bad_suite, {"NO_COLOR": value})
    assert "\x1b" not in output
    assert "10 |     repaet: 2\n   |     ^\n" in output


@needs_a_pty
def test_an_error_that_is_not_located_is_coloured_on_a_terminal(bad_suite: Path) -> None:
    write_suite(bad_suite, MINIMAL, "good.yaml")
    output = on_a_terminal(["plan", "good.yaml", "--tag", "nope"], bad_suite, {})
    assert output.startswith("specrunner: \x1b[1;31merror:\x1b[0m --tag 'nope'")


def test_piped_errors_are_plain(bad_suite: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "specrunner", "validate", "bad.yaml"],
        cwd=bad_suite,
        env={**minimal_env(), "TERM": "xterm-256color"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "\x1b" not in done.stderr
    assert done.stderr.splitlines()[1:4] == ["   |", "10 |     repaet: 2", "   |     ^"]
