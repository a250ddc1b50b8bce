"""The text plan: payloads and cells in full, wrapped to the width (or not, with --wide),
secrets masked at every width; and docs/cli.md's example is what the command prints."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import REPO, compile_text, write_suite
from specrunner.cli import main
from specrunner.models import Plan
from specrunner.plan_view import plan_text
from specrunner.wrapping import json_line

LONG_PERSONA = "an impatient caller who interrupts every sentence and asks for a manager twice"
SUITE = f"""
    version: 1
    name: wrap
    rooms:
      lab: {{source: static, url: "https://acme.daily.co/lab"}}
    defaults:
      publish_data_message:
        suite: "{{{{ suite.name }}}}"
        run_key: "{{{{ run.key }}}}"
        attempt: "{{{{ run.repeat }}}}"
    scenarios:
      - id: 30
        name: order-by-locale
        repeat: 2
        matrix:
          locale: [en-US, es-ES]
          persona: [polite, "{LONG_PERSONA}"]
        publish_data_message:
          locale: "{{{{ matrix.locale }}}}"
          persona: "{{{{ matrix.persona }}}}"
          cart: [margherita, garlic-bread, tiramisu, sparkling-water, extra-basil]
      - id: 31
        name: store-hours
"""
WIDTHS = [40, 60, 80, 100, 160]
RUN_ROW = re.compile(r"^    ([0-9a-f]{16})  (\d+)(?:\s+(.*))?$")


def payloads_in(text: str) -> dict[str, Any]:
    """Each run's payload read back from the text: its row and the lines below it, joined
    where they were broken (a break drops one space)."""
    found: dict[str, list[str]] = {}
    key = None
    for line in text.splitlines():
        row = RUN_ROW.match(line)
        if row:
            key = row.group(1)
            found[key] = [row.group(3)] if row.group(3) else []
        elif key is not None and line.startswith("      ") and not line.startswith("  cell"):
            found[key].append(line.strip())
        else:
            key = None
    return {key: json.loads(" ".join(parts)) for key, parts in found.items()}


@pytest.fixture
def plan() -> Plan:
    return compile_text(SUITE)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_payload_is_there_in_full_at_any_width(plan: Plan, width: int) -> None:
    text = plan_text(plan, width)
    assert "..." not in text
    assert payloads_in(text) == {run.key: run.shown_payload for run in plan.runs}


@pytest.mark.parametrize("width", WIDTHS)
def test_every_line_fits_the_width(plan: Plan, width: int) -> None:
    lines = plan_text(plan, width).splitlines()
    assert max(len(line) for line in lines) <= width, "\n".join(lines)
    if width < 100:
        assert len(lines) > len(plan_text(plan, 160).splitlines())  # it did wrap


@pytest.mark.parametrize("width", WIDTHS)
def test_each_cell_is_named_by_all_its_values(plan: Plan, width: int) -> None:
    text = plan_text(plan, width)
    headings = re.findall(r"^  cell (.*(?:\n {7}\S.*)*)", text, flags=re.M)
    assert [" ".join(heading.split()) for heading in headings] == [
        "locale=en-US persona=polite",
        f"locale=en-US persona={LONG_PERSONA}",
        "locale=es-ES persona=polite",
        f"locale=es-ES persona={LONG_PERSONA}",
    ]


def test_wide_never_wraps(plan: Plan) -> None:
    text = plan_text(plan, None)
    for run in plan.runs:
        row = next(line for line in text.splitlines() if line.startswith(f"    {run.key}"))
        assert row.endswith(json_line(run.shown_payload))
    assert f"  cell locale=en-US persona={LONG_PERSONA}\n" in text
    assert len(text.splitlines()) == len(plan_text(plan, 10_000).splitlines())


def test_a_narrow_terminal_puts_payloads_under_their_rows(plan: Plan) -> None:
    lines = plan_text(plan, 40).splitlines()
    key = plan.runs[0].key
    row = lines.index(f"    {key}  1")
    assert lines[row + 1].startswith('      {"suite": "wrap",')
    assert "    KEY               REPEAT" in lines
    assert "      PUBLISH_DATA_MESSAGE" in lines


SECRET = "alpha, beta gamma delta epsilon"


@pytest.mark.parametrize("width", [*range(40, 130, 7), None])
def test_secrets_stay_masked_however_the_lines_break(width: int | None) -> None:
    # The secret is read from env, and the same words are written in the suite: both are
    # masked, whole, before the text is broken into lines.
    suite = SUITE.replace(
        "      - id: 31\n",
        "        vars: {}\n      - id: 31\n",
    ).replace(
        "        name: store-hours\n",
        "        name: store-hours\n"
        "        publish_data_message:\n"
        '          token: "{{ env.HOTEL_TOKEN }}"\n'
        f'          note: "{SECRET}"\n',
    )
    suite = suite.replace("        vars: {}\n", "")
    plan = compile_text(suite, environ={"HOTEL_TOKEN": SECRET})
    text = plan_text(plan, width)
    for word in ("alpha", "beta", "gamma", "delta", "epsilon"):
        assert word not in text
    assert '"token": "***"' in " ".join(text.split())
    assert '"note": "***"' in " ".join(text.split())


def cli(*args: str, **env: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_the_command_wraps_to_columns_and_wide_keeps_one_line(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(tmp_path, SUITE, "wrap.yaml")
    narrow = cli("plan", "wrap.yaml", COLUMNS="60")
    assert narrow.exit_code == 0, narrow.output
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 60
    piped = cli("plan", "wrap.yaml")  # not a terminal, no COLUMNS: 100 columns
    assert max(len(line) for line in piped.stdout.splitlines()) <= 100
    assert piped.stdout != narrow.stdout
    wide = cli("plan", "wrap.yaml", "--wide", COLUMNS="60")
    assert wide.exit_code == 0
    assert max(len(line) for line in wide.stdout.splitlines()) > 100
    assert payloads_in(wide.stdout) == payloads_in(narrow.stdout) == payloads_in(piped.stdout)


def test_the_plan_example_in_the_cli_docs_is_what_the_command_prints(
    clean_environ: pytest.MonkeyPatch,
) -> None:
    clean_environ.chdir(REPO)
    doc = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    block = re.search(r"```console\n\$ (specrunner plan [^\n]*)\n(.*?)\n```", doc, flags=re.S)
    assert block is not None
    args = shlex.split(block.group(1))[1:]
    result = cli(*args)
    assert result.exit_code == 0
    assert result.stdout.rstrip("\n") == block.group(2)
