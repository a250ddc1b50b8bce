"""docs/troubleshooting.md shows specrunner's messages verbatim.

Each `$ specrunner ...` command of a ```console block, with the lines after it (up to the
next command), is one example. An example whose suite is a golden case of
tests/golden/errors must show that case's output exactly (and use its arguments), so
tests/test_golden.py pins it; one on a suite of specs/ is run, in a copy of specs/, and must
print exactly what it shows. Every `validate` and `plan` example, and every example that
shows a located error (`FILE:LINE:COL: message`), must be one of the two: a message shown
in the docs cannot drift from what specrunner prints.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO
from specrunner.cli import main
from test_golden import GOLDEN, read_case

DOC = REPO / "docs" / "troubleshooting.md"
_CONSOLE = re.compile(r"^```console[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
_LOCATED = re.compile(r"^[^\s:]+:\d+:\d+: \S", re.MULTILINE)
_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


@dataclass(frozen=True)
class Example:
    where: str
    env: dict[str, str]
    args: list[str]
    shown: str


def examples() -> list[Example]:
    text = DOC.read_text(encoding="utf-8")
    found: list[Example] = []
    for block in _CONSOLE.finditer(text):
        line = text[: block.start()].count("\n") + 2
        for chunk in re.split(r"^(?=\$ )", block.group(1), flags=re.MULTILINE):
            if not chunk.startswith("$ "):
                continue
            command, _, shown = chunk.partition("\n")
            words = shlex.split(command[2:])
            env = {}
            while words and _ASSIGNMENT.match(words[0]):
                name, _, value = words.pop(0).partition("=")
                env[name] = value
            assert words[0] == "specrunner", f"{DOC.name}:{line}: not a specrunner command"
            found.append(Example(f"{DOC.name}:{line}", env, words[1:], shown))
            line += chunk.count("\n")
    return found


EXAMPLES = examples()


def suite_of(example: Example) -> str | None:
    return next((a for a in example.args[1:] if not a.startswith("-")), None)


def must_be_checked(example: Example) -> bool:
    return example.args[0] in ("validate", "plan") or bool(_LOCATED.search(example.shown))


def test_there_are_examples_to_check() -> None:
    checked = [e for e in EXAMPLES if must_be_checked(e)]
    assert len(checked) >= 12
    assert any("= hint: " in e.shown for e in checked)
    assert any(e.args[0] == "run" for e in checked)


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if must_be_checked(e)], ids=lambda e: e.where
)
def test_each_example_is_what_specrunner_prints(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = suite_of(example)
    assert suite is not None, f"{example.where}: no suite to reproduce the example with"
    golden = GOLDEN / suite
    if golden.is_file():
        case = read_case(golden)
        assert example.args == case.args, f"{example.where}: not the golden case's arguments"
        expected = golden.with_suffix(".out").read_text(encoding="utf-8").split("\n", 1)[1]
        assert example.shown == expected, f"{example.where}: not the output of {suite}"
        return
    assert suite.startswith("specs/"), (
        f"{example.where}: a message the tests cannot reproduce; use a golden case of "
        "tests/golden/errors or a suite of specs/"
    )
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n not in ("PATH", "HOME", "LANG")]:
        monkeypatch.delenv(name)
    for name, value in example.env.items():
        monkeypatch.setenv(name, value)
    # Nothing may leave this machine: an API call would go to a closed local port.
    monkeypatch.setenv("CEKURA_API_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(main, example.args, prog_name="specrunner")
    assert result.output == example.shown, example.where
    assert not (tmp_path / ".specrunner" / "runs").exists(), "the example sent something"
