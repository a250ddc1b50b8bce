"""Every suite we ship or show works: specs/, the YAML blocks of the docs, the starter suite.

A ```yaml block in the docs is either a complete suite, which must validate; an emulator
configuration, which starts with a `# emulator configuration` line and must load; or starts
with a `# excerpt` line and then only needs to be YAML. Nothing is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO
from specrunner.app import planning
from specrunner.app.checking import validate
from specrunner.app.planning import PlanRequest
from specrunner.emulator.config import load_config
from specrunner.suite.compile import environment_names
from specrunner.suite.load import load_suite

SPECS = sorted((REPO / "specs").glob("*.yaml"))
DOCS = sorted([*(REPO / "docs").glob("*.md"), REPO / "README.md"])
STARTER = REPO / "specrunner" / "starter" / "smoke.yaml"

_BLOCK = re.compile(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def yaml_blocks() -> list[tuple[str, str]]:
    blocks = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text[: match.start()].count("\n") + 1
            blocks.append((f"{doc.relative_to(REPO)}:{line}", match.group(1)))
    return blocks


BLOCKS = yaml_blocks()


def plan_everywhere(path: Path) -> dict[str | None, Any]:
    """Validate, then plan in every environment, with no environment variables at all."""
    validated = validate(str(path), environ={})
    names: list[str | None] = list(environment_names(load_suite(path))) or [None]
    plans = {}
    for name in names:
        plans[name] = planning.plan(PlanRequest(suite=str(path), environment=name), environ={})
        assert validated.runs[name] == len(plans[name].runs)
    return plans


def test_there_are_examples() -> None:
    assert len(SPECS) >= 2
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_specs_validate_and_plan_with_an_empty_environment(path: Path) -> None:
    plans = plan_everywhere(path)
    for plan in plans.values():
        assert plan.runs
        assert all(run.key for run in plan.runs)


@pytest.mark.parametrize(("where", "block"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_docs_yaml_blocks(where: str, block: str, tmp_path: Path) -> None:
    first = block.splitlines()[0] if block.strip() else ""
    if first.strip() == "# excerpt":
        data = yaml.safe_load(block)
        assert isinstance(data, dict), f"{where}: an excerpt that is not a mapping"
        return
    path = tmp_path / "example.yaml"
    path.write_text(block, encoding="utf-8")
    if first.strip() == "# emulator configuration":
        load_config(str(path))
        return
    validate(str(path), environ={})


def test_starter_suite_validates_and_plans() -> None:
    plans = plan_everywhere(STARTER)
    assert len(plans[None].runs) == 2


def test_the_starters_commented_sequential_scenario_works_uncommented(tmp_path: Path) -> None:
    text = STARTER.read_text(encoding="utf-8")
    block = text[text.index("  # - id: 2") :]
    lines = [line.replace("  # ", "  ", 1) for line in block.splitlines()]
    path = tmp_path / "smoke.yaml"
    path.write_text(text + "\n".join(lines) + "\n", encoding="utf-8")
    plan = planning.plan(PlanRequest(suite=str(path)), environ={})
    (scenario,) = [s for s in plan.scenarios if s.name == "order-flow"]
    assert (scenario.repeat_min, scenario.repeat) == (3, 20)
    assert scenario.expect.confidence == 0.95
    assert sum(run.scenario == "order-flow" for run in plan.runs) == 20


def test_the_adaptive_spec_is_sequential_with_a_confidence_from_its_defaults() -> None:
    plan = planning.plan(PlanRequest(suite=str(REPO / "specs" / "adaptive.yaml")), environ={})
    by_name = {s.name: s for s in plan.scenarios}
    assert by_name["order-happy-path"].expect.confidence == 0.95
    assert by_name["refund-request"].expect.confidence == 0.95
    assert by_name["refund-request"].expect.pass_rate == 0.7
    assert by_name["cancel-order"].expect.confidence is None  # a count: decided exactly
    assert all(run.sequence is not None for run in plan.runs)


# ---- what the examples say about themselves ----------------------------------------------


def suite_block(name: str) -> str:
    """The block of docs/suite-format.md that holds the suite with this `name:`."""
    for where, block in BLOCKS:
        if not where.startswith("docs/suite-format.md:"):
            continue
        if re.search(rf"^name: {re.escape(name)}$", block, re.MULTILINE):
            return block
    raise AssertionError(f"no example suite named {name}")


def plan_block(tmp_path: Path, name: str, environment: str | None = None) -> Any:
    path = tmp_path / f"{name}.yaml"
    path.write_text(suite_block(name), encoding="utf-8")
    return planning.plan(PlanRequest(suite=str(path), environment=environment), environ={})


def test_complete_example_plans_ten_runs(tmp_path: Path) -> None:
    plan = plan_block(tmp_path, "checkout-smoke")
    by_scenario = [(r.scenario, r.room) for r in plan.runs]
    assert by_scenario.count(("order-happy-path", "staging_bot")) == 9
    assert by_scenario.count(("refund-request", "lab")) == 1
    assert len(plan.runs) == 10


def test_env_demo_production_payload(tmp_path: Path) -> None:
    plan = plan_block(tmp_path, "env-demo", "production")
    (run,) = plan.runs
    assert (run.room, plan.agent, run.timeout) == ("prod_bot", 412, 1800.0)
    assert run.publish_data_message == {
        "customer_id": "c-100",
        "environment": "production",
        "traffic": "synthetic",
    }


def test_merge_demo_payload(tmp_path: Path) -> None:
    (run,) = plan_block(tmp_path, "merge-demo").runs
    assert run.publish_data_message == {
        "caller": {"name": "Alex", "tier": "standard"},
        "cart": ["calzone"],
    }


def test_matrix_demo_cells(tmp_path: Path) -> None:
    plan = plan_block(tmp_path, "matrix-demo")
    assert [run.cell for run in plan.runs] == [
        {"locale": "en-US", "persona": "polite"},
        {"locale": "en-US", "persona": "impatient", "interrupt": True},
        {"locale": "es-ES", "persona": "polite"},
        {"locale": "de-DE", "persona": "polite"},
    ]


def test_anchors_demo_merges(tmp_path: Path) -> None:
    plan = plan_block(tmp_path, "anchors-demo")
    assert plan.rooms["prod_bot"].capacity == 10


def test_specs_say_how_many_runs_they_plan() -> None:
    smoke = plan_everywhere(REPO / "specs" / "smoke.yaml")
    assert len(smoke[None].runs) == 6  # "six runs in all"
    matrix = plan_everywhere(REPO / "specs" / "matrix.yaml")
    assert {name: len(plan.runs) for name, plan in matrix.items()} == {
        "staging": 39,
        "production": 39,
    }  # "39 runs per environment"


def test_relative_links_in_docs_point_at_files() -> None:
    missing = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text("utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (doc.parent / target).exists():
                missing.append(f"{doc.relative_to(REPO)} -> {target}")
    assert missing == []
