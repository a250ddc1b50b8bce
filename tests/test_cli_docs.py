"""docs/cli.md shows each command's `--help` exactly as the CLI prints it."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from specrunner.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
BLOCKS = re.findall(r"<!-- help: ([^>]+?) -->\n```text\n(.*?)\n```", DOC.read_text(), flags=re.S)


def test_every_command_has_its_help_in_the_docs() -> None:
    documented = {name for name, _ in BLOCKS}
    subcommands = {
        f"{name} {sub}"
        for name, command in main.commands.items()
        if isinstance(command, click.Group)
        for sub in command.commands
    }
    assert documented == {"specrunner", *main.commands, *subcommands}


@pytest.mark.parametrize(("name", "shown"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_documented_help_matches_the_cli(name: str, shown: str) -> None:
    args = [] if name == "specrunner" else name.split()
    result = CliRunner().invoke(main, [*args, "--help"], terminal_width=100)
    assert result.exit_code == 0
    assert result.output.rstrip() == shown, (
        f"docs/cli.md is out of date for `{name}`: regenerate its help block"
    )
