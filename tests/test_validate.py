"""Schema checks in plain language: one located line per problem, with suggestions."""

from __future__ import annotations

import pytest

from conftest import MINIMAL, load, schema_errors
from specrunner.suite.validate import check_version, describe, dotted, schema_diagnostics


def version_message(text: str) -> str | None:
    found = check_version(load(text))
    return None if found is None else str(found)


# ---- version ---------------------------------------------------------------------------


def test_version_1_is_supported() -> None:
    assert version_message(MINIMAL) is None


@pytest.mark.parametrize("written", ["2", "0", "1.5", "true", "null", "[1]"])
def test_other_versions_list_the_supported_ones(written: str) -> None:
    message = version_message(f"version: {written}\nname: x\n")
    assert message is not None
    assert message.startswith("suite.yaml:1:10: unsupported suite version ")
    assert message.endswith("; this specrunner reads version 1")


def test_version_2_names_the_version_given() -> None:
    message = version_message("version: 2\n")
    assert message is not None
    assert "version 2;" in message


def test_version_as_a_string_asks_for_the_number() -> None:
    assert version_message('version: "1"\n') == (
        "suite.yaml:1:10: version must be a number, not a string: write `version: 1`"
    )


def test_version_check_ignores_non_mappings_and_missing_versions() -> None:
    assert version_message("- 1\n") is None
    assert version_message("name: x\n") is None


def test_missing_version_is_a_schema_error() -> None:
    errors = schema_errors(MINIMAL.replace("version: 1\n", ""))
    assert len(errors) == 1
    assert errors[0].startswith("suite.yaml:1:1: the suite: missing required key 'version'")


# ---- unknown keys ----------------------------------------------------------------------


def test_unknown_top_level_key_suggests_the_close_one() -> None:
    errors = schema_errors(MINIMAL + "descripton: typo\n")
    assert errors == [
        "suite.yaml:10:1: unknown key 'descripton' in the suite; did you mean 'description'?"
    ]


def test_unknown_key_without_a_close_one_lists_the_known_keys() -> None:
    errors = schema_errors(MINIMAL + "zzz: 1\n")
    assert len(errors) == 1
    assert errors[0].startswith("suite.yaml:10:1: unknown key 'zzz' in the suite (expected one of:")
    assert "scenarios" in errors[0]


def test_unknown_key_in_a_scenario_points_at_the_key() -> None:
    errors = schema_errors(MINIMAL + "    repaet: 3\n")
    assert errors == [
        "suite.yaml:10:5: unknown key 'repaet' in scenarios[0]; did you mean 'repeat'?"
    ]


def test_unknown_key_in_a_room_of_a_given_source() -> None:
    text = MINIMAL.replace(
        "    url: https://acme.daily.co/lab\n", "    url: https://acme.daily.co/lab\n    tokn: x\n"
    )
    assert schema_errors(text) == [
        "suite.yaml:7:5: unknown key 'tokn' in rooms.lab; did you mean 'token'?"
    ]


@pytest.mark.parametrize(
    "free",
    [
        "    publish_data_message: {anything: 1, nested: {deep: [1, 2]}}\n",
        "    include: [{whatever: 1}]\n",
        "    exclude: [{whatever: 1}]\n",
    ],
)
def test_free_mappings_accept_any_keys(free: str) -> None:
    assert schema_errors(MINIMAL + free) == []


def test_vars_and_room_free_mappings_accept_any_keys() -> None:
    text = """
        version: 1
        name: mini
        vars: {any: {thing: [1]}, goes: true}
        rooms:
          bot:
            source: pipecat_cloud
            agent_name: a
            api_key: k
            body: {free: {form: 1}}
            room_properties: {exp: 1}
            token_properties: {is_owner: true}
          own:
            source: daily
            api_key: k
            start_bot: {url: u, body: {free: 1}, headers: {X-Any: v}}
        scenarios:
          - id: 1
            room: bot
    """
    assert schema_errors(text) == []


# ---- types, enums, required -------------------------------------------------------------


def test_wrong_type_says_what_was_expected_and_what_was_given() -> None:
    errors = schema_errors(MINIMAL + '    repeat: "3"\n')
    assert errors == [
        "suite.yaml:10:13: scenarios[0].repeat: expected an integer from 1 to "
        "1000 or a mapping, got the string '3'"
    ]


def test_tags_must_be_a_list() -> None:
    errors = schema_errors(MINIMAL + "    tags: smoke\n")
    assert errors == [
        "suite.yaml:10:11: scenarios[0].tags: expected a list of strings, got the string 'smoke'"
    ]


def test_bad_enum_value_suggests_the_close_one() -> None:
    errors = schema_errors(MINIMAL.replace("source: static", "source: pipecat"))
    assert errors == [
        "suite.yaml:5:13: rooms.lab.source: expected 'static', 'pipecat_cloud', "
        "'daily', 'http' or 'command', got the string 'pipecat'; did you mean "
        "'pipecat_cloud'?"
    ]


def test_missing_required_key_with_a_misspelling_present() -> None:
    text = """
        version: 1
        name: mini
        rooms:
          bot:
            source: pipecat_cloud
            agent_nam: checkout
            api_key: k
        scenarios:
          - id: 1
    """
    assert schema_errors(text) == [
        "suite.yaml:5:5: rooms.bot: missing required key 'agent_name' (The Pipecat Cloud agent "
        "to start); is it misspelt as 'agent_nam'?",
        "suite.yaml:6:5: unknown key 'agent_nam' in rooms.bot; did you mean 'agent_name'?",
    ]


def test_missing_scenario_id_is_located_at_the_scenario() -> None:
    errors = schema_errors(MINIMAL + "  - name: two\n")
    assert len(errors) == 1
    assert errors[0].startswith("suite.yaml:10:5: scenarios[1]: missing required key 'id'")


@pytest.mark.parametrize(
    ("timeout", "ok"),
    [
        ("90s", True),
        ("10m", True),
        ("1h", True),
        ("1h30m", True),
        ("2m30s", True),
        ("600", True),
        ("10 minutes", False),
        ("1.5h", False),
        ("30s1m", False),
        ("''", False),
        ("-5", False),
        ("0", False),
        ("'600'", False),
        ("10M", False),
        ("1d", False),
    ],
)
def test_durations(timeout: str, ok: bool) -> None:
    errors = schema_errors(MINIMAL + f"    timeout: {timeout}\n")
    assert (errors == []) is ok, errors
    if not ok:
        assert len(errors) == 1
        assert errors[0].startswith("suite.yaml:10:14: scenarios[0].timeout: ")


def test_integer_duration_is_seconds() -> None:
    assert schema_errors(MINIMAL + "    timeout: 600\n") == []


def test_expect_takes_only_one_rule() -> None:
    errors = schema_errors(MINIMAL + "    expect: {pass_rate: 0.5, min_passes: 1}\n")
    assert errors == [
        "suite.yaml:10:13: scenarios[0].expect: takes only one of 'pass_rate' or "
        "'min_passes' (got pass_rate, min_passes)"
    ]


def test_expect_empty_lists_the_rules() -> None:
    errors = schema_errors(MINIMAL + "    expect: {}\n")
    assert errors == [
        "suite.yaml:10:13: scenarios[0].expect: must not be empty; set one of: "
        "pass_rate, min_passes, confidence"
    ]


def test_sequential_repeat_and_confidence_are_checked() -> None:
    assert schema_errors(MINIMAL + "    repeat: {min: 3, max: 20}\n") == []
    assert schema_errors(MINIMAL + "    repeat: {max: 20}\n    expect: {confidence: 0.9}\n") == []
    assert schema_errors(MINIMAL + "    repeat: {min: 3}\n") == [
        "suite.yaml:10:13: scenarios[0].repeat: missing required key 'max' (The most runs "
        "sent, 1..1000: the cell stops sooner once its verdict is decided)"
    ]
    assert schema_errors(MINIMAL + "    repeat: {min: 0, max: 20}\n") == [
        "suite.yaml:10:19: scenarios[0].repeat.min: must be at least 1, got 0",
    ]
    assert schema_errors(MINIMAL + "    repeat: {min: 1, most: 3}\n") == [
        "suite.yaml:10:22: unknown key 'most' in scenarios[0].repeat (expected one of: min, max)",
    ]
    assert schema_errors(MINIMAL + "    expect: {pass_rate: 0.9, confidence: 1}\n") == [
        "suite.yaml:10:42: scenarios[0].expect.confidence: must be less than 1, got 1"
    ]
    assert schema_errors(MINIMAL + "    expect: {pass_rate: 0.9, confidence: 0.5}\n") == [
        "suite.yaml:10:42: scenarios[0].expect.confidence: must be greater than 0.5, got 0.5"
    ]
    assert schema_errors(
        MINIMAL + "    expect: {pass_rate: 0.5, min_passes: 1, confidence: 0.9}\n"
    ) == [
        "suite.yaml:10:13: scenarios[0].expect: takes only one of 'pass_rate' or "
        "'min_passes' (got pass_rate, min_passes)"
    ]


def test_pass_rate_range() -> None:
    errors = schema_errors(MINIMAL + "    expect: {pass_rate: 1.5}\n")
    assert errors == ["suite.yaml:10:25: scenarios[0].expect.pass_rate: must be at most 1, got 1.5"]


def test_static_room_with_both_url_and_rooms() -> None:
    text = MINIMAL.replace(
        "    url: https://acme.daily.co/lab\n",
        "    url: https://acme.daily.co/lab\n    rooms: [{url: u}]\n",
    )
    assert schema_errors(text) == ["suite.yaml:5:5: rooms.lab: set only one of 'url' or 'rooms'"]


def test_static_room_with_neither_url_nor_rooms() -> None:
    text = MINIMAL.replace("    url: https://acme.daily.co/lab\n", "    token: t\n")
    assert schema_errors(text) == ["suite.yaml:5:5: rooms.lab: needs one of 'url' or 'rooms'"]


def test_empty_rooms_and_scenarios() -> None:
    errors = schema_errors("version: 1\nname: x\nrooms: {}\nscenarios: []\n")
    assert errors == [
        "suite.yaml:3:8: rooms: must not be empty",
        "suite.yaml:4:12: scenarios: must have at least 1 item",
    ]


def test_suite_name_form() -> None:
    errors = schema_errors(MINIMAL.replace("name: mini", "name: Checkout Smoke"))
    assert errors == [
        "suite.yaml:2:7: name: the string 'Checkout Smoke' is not of the required "
        "form (for example 'checkout-smoke' or 'nightly.v2')"
    ]


def test_repeated_tags_and_empty_tags() -> None:
    errors = schema_errors(MINIMAL + '    tags: [a, a, ""]\n')
    assert errors == [
        "suite.yaml:10:11: scenarios[0].tags: must not repeat an item",
        "suite.yaml:10:18: scenarios[0].tags[2]: must not be empty",
    ]


def test_repeat_bounds() -> None:
    assert len(schema_errors(MINIMAL + "    repeat: 1000\n")) == 0
    assert schema_errors(MINIMAL + "    repeat: 1001\n") == [
        "suite.yaml:10:13: scenarios[0].repeat: must be at most 1000, got 1001"
    ]


def test_empty_matrix_list() -> None:
    assert schema_errors(MINIMAL + "    matrix: {locale: []}\n") == [
        "suite.yaml:10:22: scenarios[0].matrix.locale: must have at least 1 item"
    ]


def test_suite_that_is_not_a_mapping() -> None:
    assert schema_errors("- 1\n") == ["suite.yaml:1:1: the suite: expected a mapping, got a list"]


# ---- names (propertyNames) --------------------------------------------------------------


def test_matrix_key_with_a_dash_points_at_the_key() -> None:
    errors = schema_errors(MINIMAL + "    matrix:\n      caller-tier: [gold]\n")
    assert len(errors) == 1
    assert errors[0].startswith(
        "suite.yaml:11:7: scenarios[0].matrix: the name 'caller-tier' is not allowed: "
    )
    assert "matrix.NAME" in errors[0]


def test_room_and_environment_names() -> None:
    text = (
        MINIMAL.replace("  lab:", "  lab room:")
        + "environments:\n  -prod: {}\ndefault_environment: -prod\n"
    )
    errors = schema_errors(text)
    assert [e.split(": the name")[0] for e in errors] == [
        "suite.yaml:4:3: rooms",
        "suite.yaml:11:3: environments",
    ]


def test_every_problem_is_reported_once_and_sorted() -> None:
    text = """
        version: 1
        name: Bad Name
        descripton: x
        rooms:
          lab: {source: nope}
        scenarios:
          - id: 0
            repeat: 0
          - {}
    """
    doc = load(text)
    found = schema_diagnostics(doc)
    assert found == sorted(found)
    assert len(set(found)) == len(found)
    assert [(d.line, d.col) for d in found] == [(2, 7), (3, 1), (5, 17), (7, 9), (8, 13), (9, 5)]


# ---- message helpers --------------------------------------------------------------------


def test_dotted_paths() -> None:
    assert dotted(()) == "the suite"
    assert dotted(("scenarios", 0, "expect", "pass_rate")) == "scenarios[0].expect.pass_rate"
    assert dotted(("rooms", "lab")) == "rooms.lab"


def test_describe_values() -> None:
    assert describe(None) == "null"
    assert describe(True) == "true"
    assert describe(3) == "the number 3"
    assert describe("x") == "the string 'x'"
    assert describe("y" * 100).endswith("...'")
    assert describe([1]) == "a list"
    assert describe({}) == "a mapping"
