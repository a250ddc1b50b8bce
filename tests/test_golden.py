"""Golden files for the messages a person reads when a suite or an option is wrong.

Each case in tests/golden/errors/ is a suite NAME.yaml and its expected output NAME.out.

Header lines at the top of NAME.yaml (YAML comments, so the file stays a suite):

    # args: plan {suite} --env nope     CLI arguments; {suite} is the case's file name.
                                        Default: validate {suite}
    # env: NAME=value                   set in the (otherwise empty) environment; repeatable

NAME.out starts with `# exit: N`, then the exact combined output of the command (click's
`result.output`: stderr and stdout as they were written).

The command runs in-process through click's CliRunner, in the golden folder, so file
names in messages are relative and stable.

To regenerate every .out from the current behaviour, run

    SPECRUNNER_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

and review the diff by eye: each problem is one `FILE:LINE:COL: message` line pointing at
the right place, followed (when the file has that line) by the line itself with a caret
under the column and a blank line; or click's usage message for a bad option; and no
traceback anywhere.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from specrunner.cli import main

GOLDEN = Path(__file__).parent / "golden" / "errors"
UPDATE = os.environ.get("SPECRUNNER_UPDATE_GOLDEN") == "1"
CASES = sorted(GOLDEN.glob("*.yaml"))


@dataclass(frozen=True)
class Case:
    name: str
    args: list[str]
    env: dict[str, str]


def read_case(path: Path) -> Case:
    # The file may be deliberately broken (not UTF-8, bad YAML): read headers leniently.
    text = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
    args = f"validate {path.name}"
    env: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header = line.lstrip("#").strip()
        if header.startswith("args:"):
            args = header.removeprefix("args:").strip().replace("{suite}", path.name)
        elif header.startswith("env:"):
            name, _, value = header.removeprefix("env:").strip().partition("=")
            env[name] = value
    return Case(path.stem, shlex.split(args), env)


def run_case(case: Case, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(GOLDEN)
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, case.args, prog_name="specrunner", catch_exceptions=False)
    return result.exit_code, result.output


def test_there_are_cases() -> None:
    assert len(CASES) >= 30


def test_every_case_has_an_expected_output() -> None:
    names = {p.stem for p in CASES}
    outs = {p.stem for p in GOLDEN.glob("*.out")}
    assert outs - names == set(), "stale .out files without a case"
    if not UPDATE:
        assert names - outs == set(), "cases without .out (run with SPECRUNNER_UPDATE_GOLDEN=1)"


_LOCATED = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): \S.*$")
_SUMMARY = re.compile(r"^\d+ errors? in \S.*$")
_VALID = re.compile(r"^\S.*: valid \(.*\)$")
# Under a problem: its source line between two gutter lines, the second with the caret.
_GUTTER = re.compile(r"^(?P<pad> +)\|$")
_NUMBERED = re.compile(r"^(?P<number>\d+) \|( .*)?$")
_CARET = re.compile(r"^(?P<pad> +)\| +\^$")
_HINT = re.compile(r"^ += hint: \S.*$")


def check_snippets(lines: list[str]) -> list[str]:
    """Check the source lines under the problems; return the lines that are not them."""
    rest: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        rest.append(line)
        i += 1
        located = _LOCATED.match(line)
        if located is None:
            continue
        start = i
        if i < len(lines) and _GUTTER.match(lines[i]):
            gutter, numbered, caret = lines[i : i + 3]
            number = _NUMBERED.match(numbered)
            assert number is not None, numbered
            assert number["number"] == located["line"], "the source line is not the problem's"
            assert gutter == " " * len(number["number"]) + " |"
            assert _CARET.match(caret), caret
            assert caret.startswith(gutter), "the caret line has the gutter's width"
            i += 3
        if i < len(lines) and _HINT.match(lines[i]):
            i += 1
        if i > start:
            assert i < len(lines) and lines[i] == "", "a blank line ends a problem's lines"
            i += 1
    return rest


def check_shape(case: Case, code: int, output: str) -> None:
    """What every error output must look like, whatever its words."""
    assert "Traceback" not in output
    assert "internal error" not in output
    assert code == 2, f"exit code {code}, expected 2 (invalid input)"
    assert output.endswith("\n")
    lines = output.splitlines()
    if lines[0].startswith("Usage: "):
        # click's usage message for a bad option: usage, hint, blank, one Error line.
        assert lines[-1].startswith("Error: ")
        assert sum(line.startswith("Error: ") for line in lines) == 1
        return
    if len(lines) == 1 and lines[0].startswith("specrunner: error: "):
        return
    lines = check_snippets(lines)
    problems = [line for line in lines if not (_SUMMARY.match(line) or _VALID.match(line))]
    assert problems, "no problem reported"
    assert _SUMMARY.match(lines[-1]), lines[-1]
    for line in problems:
        match = _LOCATED.match(line)
        assert match is not None, f"not FILE:LINE:COL: message: {line!r}"
        assert int(match["line"]) >= 1 and int(match["col"]) >= 1
        assert not Path(match["file"]).is_absolute(), "file names must stay as given"
    for file in {_position(line)[0] for line in problems}:
        mine = [line for line in problems if _position(line)[0] == file]
        assert mine == sorted(mine, key=_position), "problems must be sorted by position"
    assert len(set(problems)) == len(problems), "a problem reported twice"
    for value in case.env.values():
        if len(value) >= 4:
            assert value not in output, "an environment value (a secret) is shown"
            assert value.upper() not in output, "an upper-cased secret is shown"


def _position(line: str) -> tuple[str, int, int]:
    match = _LOCATED.match(line)
    assert match is not None
    return match["file"], int(match["line"]), int(match["col"])


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = read_case(path)
    code, output = run_case(case, monkeypatch)
    actual = f"# exit: {code}\n{output}"
    expected_path = path.with_suffix(".out")
    if UPDATE:
        expected_path.write_text(actual, encoding="utf-8")
    assert expected_path.exists(), f"{expected_path.name} is missing"
    expected = expected_path.read_text(encoding="utf-8")
    assert actual == expected
    check_shape(case, code, output)
