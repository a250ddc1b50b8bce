"""Which parts of a suite its schema problems spoil (and so are left out of compiling)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import load
from specrunner.suite.load import JsonPath
from specrunner.suite.spoiled import NOTHING, Spoiled, spoiled_parts
from specrunner.suite.validate import schema_problems

DATA: dict[str, Any] = {
    "version": 1,
    "name": "checkout",
    "rooms": {"lab": {"source": "static", "url": "u"}},
    "defaults": {"repeat": 2},
    "scenarios": [
        {"id": 30, "room": "lab", "timeout": "5m"},
        {"id": 31, "repeat": 3},
        {"id": 32},
    ],
}


def spoiled(*subjects: JsonPath, data: Any = None) -> Spoiled:
    return spoiled_parts(DATA if data is None else data, subjects)


def test_no_problem_spoils_nothing() -> None:
    assert spoiled() == NOTHING
    assert not NOTHING.anything


@pytest.mark.parametrize(
    "subject",
    [(), ("version",), ("vars",), ("rooms",), ("scenarios",), ("environments",), ("var",)],
    ids=["the suite", "version", "vars", "rooms", "scenarios", "environments", "a misspelt vars"],
)
def test_what_every_part_reads_spoils_everything(subject: JsonPath) -> None:
    assert spoiled(subject).everything


def test_a_suite_that_is_not_a_mapping_is_spoiled() -> None:
    assert spoiled_parts([1], []).everything


def test_keys_nothing_reads_spoil_nothing() -> None:
    assert spoiled(("description",), ("descripton",), ("zzz-unrelated",)) == NOTHING


def test_a_name_of_the_wrong_form_still_names_the_suite() -> None:
    assert spoiled(("name",)) == NOTHING
    assert spoiled(("name",), data={**DATA, "name": 3}).everything


def test_agent_and_default_environment_are_left_out_alone() -> None:
    assert spoiled(("agent",)) == Spoiled(agent=True)
    assert spoiled(("agnet",)) == Spoiled(agent=True)  # a misspelling of it
    assert spoiled(("default_environment",)) == Spoiled(default_environment=True)


def test_rooms_and_environments_are_left_out_by_name() -> None:
    found = spoiled(("rooms", "lab", "url"), ("environments", "qa", "agent"))
    assert found == Spoiled(rooms=frozenset({"lab"}), environments=frozenset({"qa"}))


def test_a_scenario_is_left_out_for_a_setting_others_read() -> None:
    assert spoiled(("scenarios", 1, "repeat")) == Spoiled(scenarios=frozenset({1}))
    assert spoiled(("scenarios", 2)) == Spoiled(scenarios=frozenset({2}))
    assert spoiled(("scenarios", 0, "zzz")) == Spoiled(scenarios=frozenset({0}))


def test_room_timeout_and_expect_spoil_only_themselves() -> None:
    found = spoiled(
        ("scenarios", 0, "timeout"),
        ("scenarios", 0, "rom"),
        ("scenarios", 2, "expect", "pass_rate"),
    )
    assert found == Spoiled(settings=frozenset({(0, "timeout"), (0, "room"), (2, "expect")}))
    assert found.settings_of(0) == {"timeout", "room"}
    assert found.settings_of(1) == frozenset()
    assert found.anything


def test_a_default_spoils_the_scenarios_that_take_it() -> None:
    assert spoiled(("defaults", "repeat")) == Spoiled(scenarios=frozenset({0, 2}))
    assert spoiled(("defaults", "timeout")) == Spoiled(
        settings=frozenset({(1, "timeout"), (2, "timeout")})
    )
    assert spoiled(("defaults", "tiemout")) == spoiled(("defaults", "timeout"))


@pytest.mark.parametrize(
    "subject",
    [("defaults",), ("defaults", "publish_data_message"), ("defaults", "zzz-unrelated")],
    ids=["all of defaults", "a deep-merged payload", "a key like none"],
)
def test_some_defaults_spoil_every_scenario(subject: JsonPath) -> None:
    assert spoiled(subject) == Spoiled(scenarios=frozenset({0, 1, 2}))


def test_the_schemas_subjects_point_at_missing_and_unknown_keys() -> None:
    doc = load(
        """
        version: 1
        name: checkout
        rooms:
          lab: {source: static}
        scenarios:
          - name: no-id
          - id: 31
            rom: lab
    """
    )
    subjects = sorted(map(str, (p.subject for p in schema_problems(doc))))
    assert subjects == [
        "('rooms', 'lab')",  # needs one of url or rooms
        "('scenarios', 0, 'id')",
        "('scenarios', 1, 'rom')",
    ]
    parts = spoiled_parts(doc.data, [p.subject for p in schema_problems(doc)])
    assert parts == Spoiled(
        scenarios=frozenset({0}), settings=frozenset({(1, "room")}), rooms=frozenset({"lab"})
    )
