"""The JSON report of a run validates against its schema; `report` re-renders a saved one;
`merge` joins shards of one plan and refuses anything else."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from report_factory import cells_report

import specrunner
from specrunner.app.running import RunResult
from specrunner.cli import main
from specrunner.emulator import Behaviour, Emulator, EmulatorConfig
from specrunner.report.saved import read_report
from specrunner.schemas import load_schema

SUITE = {
    "version": 1,
    "name": "reports",
    "rooms": {
        "bot": {
            "source": "pipecat_cloud",
            "agent_name": "bot",
            "api_key": "{{ env.PIPECAT_CLOUD_API_KEY }}",
        }
    },
    "defaults": {"repeat": 3, "publish_data_message": {"key": "{{ run.key }}"}},
    "scenarios": [
        {
            "id": 30,
            "name": "order",
            "tags": ["smoke"],
            "matrix": {"locale": ["en", "es"]},
            "expect": {"pass_rate": 0.5},
        },
        {"id": 31, "name": "refund", "expect": {"min_passes": 1}},
    ],
}


def run_suite(tmp_path: Path, **options: Any) -> RunResult:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    config = EmulatorConfig(
        queue_seconds=0.01,
        evaluation_seconds=0.01,
        defaults=Behaviour(duration=(0.05, 0.1), pass_probability=0.7),
    )
    with Emulator(config) as emulator, contextlib.chdir(tmp_path):
        return specrunner.run(
            str(path), environ=emulator.environment(), poll_interval=0.05, **options
        )


def test_the_run_report_validates_and_judges_every_cell(tmp_path: Path) -> None:
    result = run_suite(tmp_path, outputs=("out.json",))
    report = json.loads((tmp_path / "out.json").read_text())
    Draft202012Validator(load_schema("report")).validate(report)
    assert report == json.loads((result.run_dir / "results.json").read_text())
    assert report["started_at"] is not None and report["started_at"] <= report["finished_at"]
    assert [c["id"] for c in report["cells"]] == [
        "order [locale=en]",
        "order [locale=es]",
        "refund",
    ]
    assert sum(c["runs"] for c in report["cells"]) == report["verdict"]["runs"] == 9
    for cell in report["cells"]:
        passes = cell["outcomes"]["passed"]
        rule = cell["expect"]
        needed = rule.get("min_passes", rule.get("pass_rate", 1) * cell["runs"])
        assert cell["met"] is (passes >= needed)
    assert result.exit_code == (0 if report["verdict"]["passed"] else 1)
    run = report["runs"][0]
    assert run["duration_seconds"] is not None and run["transcript"]
    assert {m["name"] for m in run["metrics"]} >= {"Expected Outcome"}


def test_report_re_renders_and_merge_joins_shards(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    run_suite(tmp_path / "a", shard="1/2", outputs=("shard.json",))
    run_suite(tmp_path / "b", shard="2/2", outputs=("shard.json",))
    runner = CliRunner()
    a, b = str(tmp_path / "a" / "shard.json"), str(tmp_path / "b" / "shard.json")
    merged_path = str(tmp_path / "merged.json")
    result = runner.invoke(main, ["merge", a, b, "-o", merged_path])
    assert result.exit_code in (0, 1), result.output
    merged = json.loads(Path(merged_path).read_text())
    Draft202012Validator(load_schema("report")).validate(merged)
    assert merged["verdict"]["runs"] == 9 and len(merged["cells"]) == 3
    assert merged["selection"]["shard"] is None
    assert merged["plan"]["merged"] == ["1/2", "2/2"] and merged["plan"]["missing"] == []
    assert result.exit_code == (0 if merged["verdict"]["passed"] else 1)
    again = runner.invoke(main, ["report", merged_path, "-o", str(tmp_path / "again.json")])
    assert again.exit_code == result.exit_code
    assert json.loads((tmp_path / "again.json").read_text()) == merged
    twice = runner.invoke(main, ["merge", a, a, "-o", str(tmp_path / "x.json")])
    assert twice.exit_code == 2 and "are both shard 1/2: give each shard once" in twice.output


def test_merge_refuses_reports_of_different_plans(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    run_suite(tmp_path / "a", shard="1/2", outputs=("shard.json",))
    report = json.loads((tmp_path / "a" / "shard.json").read_text())
    other = {
        **report,
        "environment": "production",
        "runs": [{**r, "key": r["key"] + "x"} for r in report["runs"]],
    }
    (tmp_path / "other.json").write_text(json.dumps(other))
    result = CliRunner().invoke(
        main,
        [
            "merge",
            str(tmp_path / "a" / "shard.json"),
            str(tmp_path / "other.json"),
            "-o",
            str(tmp_path / "m.json"),
        ],
    )
    assert result.exit_code == 2 and "differ in environment" in result.output


@pytest.mark.parametrize("content", ["not json", '{"runs": []}'])
def test_report_refuses_files_that_are_not_reports(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = CliRunner().invoke(main, ["report", str(path), "-o", str(tmp_path / "x.json")])
    assert result.exit_code == 2
    assert "bad.json" in result.output and "Traceback" not in result.output


def test_schema_report_prints_the_report_schema() -> None:
    result = CliRunner().invoke(main, ["schema", "report"])
    assert json.loads(result.output) == load_schema("report")


@pytest.mark.parametrize("odd", ["NaN", "Infinity", "-Infinity", "1e400", "-1E+999"])
def test_a_number_that_is_not_finite_in_a_saved_report_is_read_as_null(
    tmp_path: Path, odd: str
) -> None:
    """JSON written elsewhere may hold NaN, an infinity or a number beyond a double: read
    as null, wherever it is, and the rest as it is."""
    report = cells_report()
    report["runs"][0]["duration_seconds"] = 12.345678  # a mark, replaced by `odd`
    report["runs"][1]["publish_data_message"] = {"deep": [1, {"x": 12.345678}]}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(report).replace("12.345678", odd), encoding="utf-8")
    read = read_report(str(path))
    assert read["runs"][0]["duration_seconds"] is None
    assert read["runs"][1]["publish_data_message"] == {"deep": [1, {"x": None}]}
    report["runs"][0]["duration_seconds"] = None
    report["runs"][1]["publish_data_message"] = {"deep": [1, {"x": None}]}
    assert read == report


def test_a_saved_report_is_read_as_json_reads_it(tmp_path: Path) -> None:
    report = cells_report()
    report["runs"][0]["publish_data_message"] = {
        "tiny": 5e-324,
        "huge": 1.7976931348623157e308,
        "under": 1e-400,  # 0.0, as json reads it: finite
        "big": 2**100,
        "text": "NaN Infinity 1e400",
    }
    path = tmp_path / "r.json"
    text = json.dumps(report)
    assert '"under": 0.0,' in text
    path.write_text(text.replace('"under": 0.0,', '"under": 1e-400,'), encoding="utf-8")
    read = read_report(str(path))
    assert read == json.loads(path.read_text(encoding="utf-8"))
    assert read["runs"][0]["publish_data_message"]["under"] == 0.0
    assert type(read["runs"][0]["publish_data_message"]["big"]) is int
