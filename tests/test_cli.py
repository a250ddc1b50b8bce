"""The command line: commands, output formats, exit codes, laziness, `python -m specrunner`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

from conftest import MINIMAL, REPO, minimal_env, probe, write_suite
from specrunner import __version__
from specrunner.app.funnel import guard
from specrunner.cli import main
from specrunner.errors import Diagnostic, SuiteError, UsageError

SUITE = """
    version: 1
    name: checkout
    agent: 412
    rooms:
      lab:
        source: static
        url: https://acme.daily.co/lab
    defaults:
      publish_data_message: {suite: "{{ suite.name }}", key: "{{ run.key }}"}
    scenarios:
      - id: 30
        name: order-happy-path
        tags: [smoke]
        repeat: 3
        matrix: {locale: [en-US, es-ES]}
        publish_data_message: {locale: "{{ matrix.locale }}", attempt: "{{ run.repeat }}"}
      - id: 31
        name: refund-request
        tags: [billing]
        timeout: 90s
        expect: {min_passes: 1}
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), prog_name="specrunner", catch_exceptions=False)


@pytest.fixture
def suite_file(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> str:
    clean_environ.chdir(tmp_path)
    write_suite(tmp_path, SUITE, "checkout.yaml")
    return "checkout.yaml"


# ---- version, schema, init ---------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    result = run(flag)
    assert result.exit_code == 0
    assert result.output == f"specrunner {__version__}\n"


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("validate", "plan", "schema", "init"):
        assert command in result.output


def test_schema_prints_the_suite_schema() -> None:
    result = run("schema", "suite")
    assert result.exit_code == 0
    printed = json.loads(result.stdout)
    assert printed == json.loads((REPO / "schemas" / "suite.v1.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(printed)


@pytest.mark.parametrize(
    ("kind", "file"), [("report", "report.v1.json"), ("compare", "compare.v1.json")]
)
def test_schema_prints_the_report_and_comparison_schemas(kind: str, file: str) -> None:
    result = run("schema", kind)
    assert result.exit_code == 0
    printed = json.loads(result.stdout)
    assert printed == json.loads((REPO / "schemas" / file).read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(printed)


def test_schema_default_kind_is_suite() -> None:
    assert run("schema").stdout == run("schema", "suite").stdout


def test_schema_unknown_kind_is_a_usage_error() -> None:
    result = run("schema", "emulator")
    assert result.exit_code == 2
    assert "Usage: specrunner schema" in result.output


def test_init_writes_a_starter_that_validates_and_plans(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    result = run("init", "agent")
    assert result.exit_code == 0, result.output
    suite = tmp_path / "agent" / "specs" / "smoke.yaml"
    schema = tmp_path / "agent" / "schemas" / "suite.v1.json"
    assert suite.is_file() and schema.is_file()
    assert json.loads(schema.read_text("utf-8")) == json.loads(
        (REPO / "schemas" / "suite.v1.json").read_text("utf-8")
    )
    assert "agent/specs/smoke.yaml" in result.output
    # The starter's schema comment points at the schema init wrote.
    first = suite.read_text("utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/suite.v1.json"
    assert (suite.parent / "../schemas/suite.v1.json").resolve() == schema.resolve()
    assert run("validate", str(suite)).exit_code == 0
    planned = run("plan", str(suite), "--format", "json")
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["summary"]["runs"] >= 1


def test_init_refuses_to_overwrite_without_force(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    assert run("init", "agent").exit_code == 0
    suite = tmp_path / "agent" / "specs" / "smoke.yaml"
    suite.write_text("# my own edits\n", encoding="utf-8")
    refused = run("init", "agent")
    assert refused.exit_code == 2
    assert refused.output.startswith("specrunner: error: init: ")
    assert "--force" in refused.output
    assert suite.read_text("utf-8") == "# my own edits\n"
    forced = run("init", "agent", "--force")
    assert forced.exit_code == 0
    assert suite.read_text("utf-8").startswith("# yaml-language-server")


def test_init_defaults_to_the_current_directory(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    result = run("init")
    assert result.exit_code == 0
    assert (tmp_path / "specs" / "smoke.yaml").is_file()
    assert "specrunner validate specs/smoke.yaml" in result.output
    assert (tmp_path / ".gitignore").read_text("utf-8") == ".specrunner/\n"
    assert "wrote .gitignore" in result.output


def test_init_adds_the_run_folder_to_a_gitignore_once(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    (tmp_path / ".gitignore").write_text("node_modules", encoding="utf-8")
    assert run("init").exit_code == 0
    again = run("init", "--force")
    assert again.exit_code == 0 and ".gitignore" not in again.output
    assert (tmp_path / ".gitignore").read_text("utf-8") == "node_modules\n.specrunner/\n"


# ---- plan --------------------------------------------------------------------------------


def test_plan_json_shape(suite_file: str) -> None:
    result = run("plan", suite_file, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert result.stderr == ""
    runs = data["runs"]
    assert len(runs) == 2 * 3 + 1
    for item in runs:
        for key in (
            "key",
            "scenario_id",
            "scenario",
            "cell",
            "repeat",
            "room",
            "publish_data_message",
        ):
            assert key in item, key
    assert runs[0]["scenario_id"] == 30
    assert runs[0]["cell"] == {"locale": "en-US"}
    assert runs[0]["room"] == "lab"
    assert runs[0]["publish_data_message"] == {
        "suite": "checkout",
        "key": runs[0]["key"],
        "locale": "en-US",
        "attempt": 1,
    }
    assert [r["repeat"] for r in runs] == [1, 2, 3, 1, 2, 3, 1]
    assert len({r["key"] for r in runs}) == len(runs)
    summary = data["summary"]
    assert summary["runs"] == 7
    assert summary["scenarios"] == 2
    assert summary["cells"] == 3
    assert summary["total_runs"] == 7
    assert summary["by_scenario"] == {"order-happy-path": 6, "refund-request": 1}
    assert data["agent"] == 412
    assert data["suite"]["name"] == "checkout"


def test_plan_json_with_selection(suite_file: str) -> None:
    data = json.loads(run("plan", suite_file, "--format", "json", "--tag", "billing").stdout)
    assert [r["scenario"] for r in data["runs"]] == ["refund-request"]
    assert data["summary"]["runs"] == 1
    assert data["summary"]["total_runs"] == 7
    assert data["selection"]["tags"] == ["billing"]


def test_plan_shards_partition_through_the_cli(suite_file: str) -> None:
    whole = {
        r["key"] for r in json.loads(run("plan", suite_file, "--format", "json").stdout)["runs"]
    }
    parts = [
        {
            r["key"]
            for r in json.loads(
                run("plan", suite_file, "--format", "json", "--shard", f"{i}/3").stdout
            )["runs"]
        }
        for i in (1, 2, 3)
    ]
    assert set().union(*parts) == whole
    assert sum(len(p) for p in parts) == len(whole)


def test_plan_set_overrides_vars(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(
        tmp_path,
        MINIMAL.replace("scenarios:", "vars: {n: 1, caller: {name: A, t: g}, extra: 0}\nscenarios:")
        + "    publish_data_message:\n"
        "      v: '{{ vars }}'\n",
        "s.yaml",
    )
    data = json.loads(
        run(
            "plan",
            "s.yaml",
            "--format",
            "json",
            "--set",
            "n=2",
            "--set",
            "caller.name=Sam",
            "--set",
            "extra=[1]",
        ).stdout
    )
    assert data["runs"][0]["publish_data_message"] == {
        "v": {"n": 2, "caller": {"name": "Sam", "t": "g"}, "extra": [1]}
    }


def test_plan_text_groups_runs_by_scenario(suite_file: str) -> None:
    result = run("plan", suite_file)
    assert result.exit_code == 0, result.output
    text = result.stdout
    lines = text.splitlines()
    assert lines[0].startswith("Suite checkout (checkout.yaml)")
    assert "7 runs in 3 cells of 2 scenarios" in lines[1]
    order = text.index("order-happy-path  (scenario 30")
    refund = text.index("refund-request  (scenario 31")
    assert order < refund
    order_block = text[order:refund]
    refund_block = text[refund:]
    keys = [
        r["key"] for r in json.loads(run("plan", suite_file, "--format", "json").stdout)["runs"]
    ]
    assert all(key in order_block for key in keys[:6])
    assert keys[6] in refund_block and keys[6] not in order_block
    assert "6 runs: 2 cells x 3 repeats" in order_block
    assert "locale=en-US" in order_block
    assert "timeout 1m30s" in refund_block
    assert "expect min_passes 1" in refund_block
    assert "Rooms" in text


def test_plan_text_mentions_selection(suite_file: str) -> None:
    text = run("plan", suite_file, "--scenario", "31").stdout
    assert "1 run (of 7 in the suite)" in text
    assert "order-happy-path" not in text


def test_plan_of_an_invalid_suite_exits_2(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(tmp_path, MINIMAL.replace("source: static", "source: statik"), "bad.yaml")
    result = run("plan", "bad.yaml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("bad.yaml:5:13: rooms.lab.source: ")
    assert result.stderr.endswith("1 error in bad.yaml\n")


def test_plan_needs_the_env_variables_of_payloads(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(
        tmp_path, MINIMAL + "    publish_data_message: {t: '{{ env.TOKEN_X }}'}\n", "s.yaml"
    )
    missing = run("plan", "s.yaml")
    assert missing.exit_code == 2
    assert "environment variable TOKEN_X is not set" in missing.stderr
    clean_environ.setenv("TOKEN_X", "token-value-1")
    assert run("plan", "s.yaml").exit_code == 0
    assert run("validate", "s.yaml").exit_code == 0


def test_plan_does_not_need_room_secrets(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(
        tmp_path,
        MINIMAL.replace(
            "    url: https://acme.daily.co/lab\n",
            "    url: https://acme.daily.co/lab\n    token: '{{ env.LAB_TOKEN }}'\n",
        ),
        "s.yaml",
    )
    result = run("plan", "s.yaml", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rooms"]["lab"]["missing_env"] == ["LAB_TOKEN"]
    assert "LAB_TOKEN (not set)" in run("plan", "s.yaml").stdout


def test_plan_says_an_optional_room_variable_that_is_not_set_is_optional(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(
        tmp_path,
        MINIMAL.replace(
            "    url: https://acme.daily.co/lab\n",
            "    url: https://acme.daily.co/{{ env.get('LAB_ROOM', 'lab') }}\n",
        ),
        "s.yaml",
    )
    assert "LAB_ROOM (not set, optional)" in run("plan", "s.yaml").stdout
    clean_environ.setenv("LAB_ROOM", "lab-7")
    assert "LAB_ROOM (set)" in run("plan", "s.yaml").stdout


# ---- validate ----------------------------------------------------------------------------


def test_validate_reports_each_file(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(tmp_path, MINIMAL, "good.yaml")
    write_suite(tmp_path, SUITE, "also-good.yaml")
    write_suite(tmp_path, MINIMAL + "    repaet: 2\n", "bad.yaml")
    result = run("validate", "good.yaml", "bad.yaml", "missing.yaml", "also-good.yaml")
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "good.yaml: valid (1 run)",
        "also-good.yaml: valid (7 runs)",
    ]
    assert result.stderr.splitlines() == [
        "bad.yaml:10:5: unknown key 'repaet' in scenarios[0]; did you mean 'repeat'?",
        "   |",
        "10 |     repaet: 2",
        "   |     ^",
        "",
        "1 error in bad.yaml",
        "missing.yaml:1:1: no such file",
        "1 error in missing.yaml",
    ]


def test_validate_valid_exits_0(suite_file: str) -> None:
    result = run("validate", suite_file)
    assert result.exit_code == 0
    assert result.output == "checkout.yaml: valid (7 runs)\n"


def test_validate_counts_runs_per_environment(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(
        tmp_path,
        """
        version: 1
        name: envs
        environments:
          staging: {defaults: {repeat: 2}}
          production: {}
        default_environment: staging
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: 1
    """,
        "envs.yaml",
    )
    result = run("validate", "envs.yaml")
    assert result.exit_code == 0
    assert result.output == "envs.yaml: valid (staging: 2 runs, production: 1 run)\n"


def test_validate_needs_no_secrets(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(
        tmp_path,
        """
        version: 1
        name: envs
        agent: "{{ env.AGENT_ID }}"
        vars: {tok: "{{ env.TOKEN }}"}
        rooms:
          lab: {source: static, url: u, token: "{{ env.LAB }}"}
        scenarios:
          - id: "{{ env.SCENARIO_ID }}"
            name: secret-id
            publish_data_message: {t: "{{ vars.tok }}", u: "{{ env.OTHER }}"}
    """,
        "s.yaml",
    )
    result = run("validate", "s.yaml")
    assert result.exit_code == 0, result.output


def test_validate_requires_a_file() -> None:
    result = run("validate")
    assert result.exit_code == 2
    assert result.output.startswith("Usage: specrunner validate")


# ---- crashes -----------------------------------------------------------------------------


def test_an_unknown_filter_is_a_suite_error_not_a_crash(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(
        tmp_path, MINIMAL + "    publish_data_message: {v: \"{{ 'a' | nosuch }}\"}\n", "s.yaml"
    )
    result = run("validate", "s.yaml")
    assert "internal error" not in result.output
    assert result.exit_code == 2
    assert result.output.startswith("s.yaml:10:")
    assert not (tmp_path / ".specrunner").exists(), "a crash report was written"


# ---- subprocesses ------------------------------------------------------------------------


def test_python_dash_m_specrunner(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, MINIMAL, "mini.yaml")
    completed = subprocess.run(
        [sys.executable, "-m", "specrunner", "plan", str(suite), "--format", "json"],
        capture_output=True,
        text=True,
        env=minimal_env(),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["summary"]["runs"] == 1
    version = subprocess.run(
        [sys.executable, "-m", "specrunner", "--version"],
        capture_output=True,
        text=True,
        env=minimal_env(),
        timeout=60,
        check=False,
    )
    assert version.stdout == f"specrunner {__version__}\n"


def test_python_dash_m_exit_code_for_an_invalid_suite(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, "version: 2\n", "v2.yaml")
    completed = subprocess.run(
        [sys.executable, "-m", "specrunner", "validate", str(suite)],
        capture_output=True,
        text=True,
        env=minimal_env(),
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert "unsupported suite version" in completed.stderr


LAZY_PROBE = """
import json, sys
import specrunner.cli
heavy = ("httpx", "aiohttp", "specrunner.emulator", "jsonschema", "jinja2", "yaml")
after_import = [m for m in heavy if m in sys.modules]
try:
    specrunner.cli.main(["validate", sys.argv[1]], standalone_mode=False)
    code = 0
except SystemExit as exc:
    code = exc.code
after_validate = [m for m in heavy if m in sys.modules]
print(json.dumps({"import": after_import, "validate": after_validate, "code": code}))
"""


def test_imports_are_lazy(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, MINIMAL, "mini.yaml")
    report = probe(LAZY_PROBE, str(suite))
    assert report["import"] == []
    assert report["code"] == 0
    # HTTP and the emulator belong to the commands that use them; jsonschema is asked only
    # what is wrong with an invalid suite (the schema's compiled check passes a valid one).
    assert not {"httpx", "aiohttp", "specrunner.emulator", "jsonschema"} & set(report["validate"])
    # validate really ran: it needed the YAML reader and the templates.
    assert {"yaml", "jinja2"} <= set(report["validate"])


# ---- the error funnel --------------------------------------------------------------------


def test_guard_maps_an_unexpected_exception_to_exit_4_with_a_scrubbed_report(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    clean_environ.setenv("SOME_TOKEN", "tok-0123456789")
    messages: list[str] = []

    def boom() -> None:
        raise RuntimeError("failed with tok-0123456789")

    assert guard(boom, messages.append) == 4
    (message,) = messages
    assert message.startswith("specrunner: internal error: RuntimeError; details written to ")
    assert "Traceback" not in message
    (report,) = (tmp_path / ".specrunner").glob("crash-*.log")
    text = report.read_text("utf-8")
    assert "RuntimeError" in text
    assert "tok-0123456789" not in text


def test_guard_exit_codes_for_known_outcomes() -> None:
    messages: list[str] = []

    def invalid() -> None:
        raise SuiteError(
            [
                Diagnostic("b.yaml", 2, 1, "second"),
                Diagnostic("a.yaml", 1, 1, "x"),
                Diagnostic("b.yaml", 1, 5, "first"),
            ]
        )

    def usage() -> None:
        raise UsageError("--shard '0/2': bad")

    def interrupted() -> None:
        raise KeyboardInterrupt

    assert guard(lambda: None, messages.append) == 0
    assert guard(lambda: 1, messages.append) == 1
    assert guard(invalid, messages.append) == 2
    assert guard(usage, messages.append) == 2
    assert guard(interrupted, messages.append) == 130
    assert messages == [
        "a.yaml:1:1: x",
        "b.yaml:1:5: first",
        "b.yaml:2:1: second",
        "3 errors in a.yaml, b.yaml",
        "specrunner: error: --shard '0/2': bad",
        "specrunner: interrupted",
    ]


# ---- command-line values beyond the limits -----------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--shard", "1/" + "9" * 5_000), "Invalid value for '--shard': I and N take at most 9"),
        (
            ("--set", "x=" + "[" * 5_000 + "]" * 5_000),
            "Invalid value for '--set': the value nests lists and objects more than 64 levels",
        ),
        (
            ("--set", "x=" + "a" * 1_000_001),
            "Invalid value for '--set': the value is longer than 1,000,000 characters",
        ),
    ],
)
def test_oversized_selection_values_are_usage_errors(
    suite_file: str, args: tuple[str, ...], message: str
) -> None:
    result = run("plan", suite_file, *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert message in result.output
    assert len(result.output) < 1_000


def test_a_suite_bomb_is_a_located_error_through_the_cli(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    (tmp_path / "bomb.yaml").write_text("vars: &a {x: *a}\n", encoding="utf-8")
    result = run("validate", "bomb.yaml")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "bomb.yaml:1:14: the alias *a is inside the value it names" in result.output


HTTPX_CLI_PROBE = """
import json, sys
if sys.argv[1] == "cli":
    import specrunner.cli
else:
    import specrunner
import httpx
print(json.dumps({"pygments": "pygments" in sys.modules, "client": httpx.AsyncClient.__name__}))
"""


@pytest.mark.parametrize(("entry", "loads_pygments"), [("cli", False), ("api", True)])
def test_only_the_command_line_leaves_out_httpx_own_command_line_tool(
    entry: str, loads_pygments: bool
) -> None:
    """`specrunner` never calls httpx's command-line tool, and importing it costs every run
    about 40 ms; a program using specrunner's Python API keeps httpx as it is."""
    found = probe(HTTPX_CLI_PROBE, entry)
    assert found == {"pygments": loads_pygments, "client": "AsyncClient"}
