"""Compiling a valid suite into a plan: environments, precedence, rooms, selection, runs."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import compile_dict, compile_text, dump, load, payloads, schema_errors, suite_errors
from specrunner.errors import SuiteError, UsageError
from specrunner.models import Expectation, RoomSourceKind
from specrunner.suite.compile import CompileOptions, compile_plan


def suite(**top: Any) -> dict[str, Any]:
    """A valid suite with one static room and one scenario, updated with `top`."""
    base: dict[str, Any] = {
        "version": 1,
        "name": "checkout",
        "rooms": {"lab": {"source": "static", "url": "https://acme.daily.co/lab"}},
        "scenarios": [{"id": 30, "name": "order"}],
    }
    base.update(top)
    return base


def two_rooms(**top: Any) -> dict[str, Any]:
    return suite(
        rooms={
            "staging_bot": {"source": "static", "url": "https://acme.daily.co/staging"},
            "prod_bot": {"source": "static", "url": "https://acme.daily.co/prod"},
            "lab": {
                "source": "static",
                "rooms": [
                    {"url": "https://acme.daily.co/lab-1"},
                    {"url": "https://acme.daily.co/lab-2"},
                ],
            },
        },
        **top,
    )


ENVIRONMENTS = {
    "staging": {"agent": 413, "room": "staging_bot", "vars": {"customer_id": "c-staging"}},
    "production": {
        "agent": 412,
        "room": "prod_bot",
        "defaults": {"timeout": "15m", "publish_data_message": {"traffic": "synthetic"}},
    },
}


# ---- environments -----------------------------------------------------------------------


def test_no_environments_means_environment_null() -> None:
    plan = compile_dict(
        suite(scenarios=[{"id": 1, "publish_data_message": {"env": "{{ environment }}"}}])
    )
    assert plan.environment is None
    assert payloads(plan) == [{"env": None}]


def test_default_environment_is_used_without_env() -> None:
    plan = compile_dict(two_rooms(environments=ENVIRONMENTS, default_environment="staging"))
    assert plan.environment == "staging"
    assert plan.agent == 413
    assert plan.runs[0].room == "staging_bot"


def test_env_option_overrides_default_environment() -> None:
    plan = compile_dict(
        two_rooms(environments=ENVIRONMENTS, default_environment="staging"),
        environment="production",
    )
    assert plan.environment == "production"
    assert plan.agent == 412
    assert plan.runs[0].room == "prod_bot"
    assert plan.runs[0].timeout == 900.0


def test_environments_without_default_are_a_schema_error_even_with_env() -> None:
    # One rule for validate, plan and run: a suite with environments names its default.
    text = """
        version: 1
        name: checkout
        environments:
          staging: {}
          production: {}
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: 1
    """
    assert schema_errors(text) == [
        "suite.yaml:3:1: the suite has environments but no default_environment (The "
        "environment used when --env is not given): add it, for example "
        "`default_environment: staging` (environments: staging, production)"
    ]


def test_compiling_an_unchecked_suite_without_default_environment_stops() -> None:
    doc = load(dump(two_rooms(environments=ENVIRONMENTS)))
    with pytest.raises(SuiteError) as caught:
        compile_plan(doc, CompileOptions())
    assert [d.message for d in caught.value.diagnostics] == [
        "the suite defines environments but no default_environment: set "
        "default_environment (environments: staging, production)"
    ]
    plan = compile_plan(doc, CompileOptions(environment="staging"))
    assert plan.environment == "staging"


def test_unknown_env_suggests_a_close_name() -> None:
    errors = suite_errors(
        """
        version: 1
        name: checkout
        environments:
          staging: {}
          production: {}
        default_environment: staging
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: 1
    """,
        environment="stagin",
    )
    assert errors == [
        "suite.yaml:3:1: --env 'stagin': unknown environment; did you mean "
        "'staging'? (environments: staging, production)"
    ]


def test_env_on_a_suite_without_environments_is_an_error() -> None:
    with pytest.raises(SuiteError) as caught:
        compile_dict(suite(), environment="staging")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == "--env 'staging': this suite defines no environments"


def test_bad_default_environment_is_located_at_its_value() -> None:
    errors = suite_errors("""
        version: 1
        name: checkout
        environments:
          staging: {}
        default_environment: stagign
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: 1
    """)
    assert errors == [
        "suite.yaml:5:22: default_environment 'stagign' is not an environment "
        "of this suite; did you mean 'staging'? (environments: staging)"
    ]


def test_environment_name_is_available_to_templates() -> None:
    plan = compile_dict(
        two_rooms(
            environments=ENVIRONMENTS,
            default_environment="staging",
            scenarios=[{"id": 1, "publish_data_message": {"e": "{{ environment }}"}}],
        )
    )
    assert payloads(plan) == [{"e": "staging"}]


# ---- vars --------------------------------------------------------------------------------


VARS_SUITE = two_rooms(
    vars={"customer_id": "c-100", "caller": {"name": "Alex", "tier": "gold"}, "n": 1},
    environments={
        "staging": {
            "room": "staging_bot",
            "vars": {"customer_id": "c-staging", "caller": {"tier": "std"}},
        },
        "bare": {"room": "lab"},
    },
    default_environment="staging",
    scenarios=[{"id": 1, "publish_data_message": {"vars": "{{ vars }}"}}],
)


def test_vars_precedence_suite_then_environment_deep_merged() -> None:
    plan = compile_dict(VARS_SUITE)
    assert payloads(plan) == [
        {"vars": {"customer_id": "c-staging", "caller": {"name": "Alex", "tier": "std"}, "n": 1}}
    ]


def test_vars_of_another_environment_do_not_leak() -> None:
    plan = compile_dict(VARS_SUITE, environment="bare")
    assert payloads(plan)[0]["vars"]["customer_id"] == "c-100"


def test_set_overrides_environment_and_suite_vars() -> None:
    plan = compile_dict(
        VARS_SUITE,
        overrides=((("customer_id",), "c-cli"), (("caller", "name"), "Sam"), (("n",), [1])),
    )
    assert payloads(plan) == [
        {
            "vars": {
                "customer_id": "c-cli",
                "caller": {"name": "Sam", "tier": "std"},
                "n": [1],
            }
        }
    ]
    assert plan.selection.overrides == ("customer_id", "caller.name", "n")


def set_errors(suite: dict[str, Any], *keys: str) -> list[str]:
    overrides = tuple((tuple(key.split(".")), "x") for key in keys)
    return suite_errors(dump(suite), overrides=overrides)


VARS_LINE = dump(VARS_SUITE).splitlines().index("vars:") + 1


def test_set_of_an_undefined_var_is_an_error_with_a_suggestion() -> None:
    assert set_errors(VARS_SUITE, "customer") == [
        f"suite.yaml:{VARS_LINE}:1: --set 'customer': neither the suite nor environment "
        "'staging' has a var 'customer'; did you mean 'customer_id'? (vars: customer_id, caller, n)"
    ]


def test_set_of_a_nested_key_needs_only_its_var() -> None:
    plan = compile_dict(VARS_SUITE, overrides=((("caller", "title", "short"), "Dr"),))
    assert payloads(plan)[0]["vars"]["caller"] == {
        "name": "Alex",
        "tier": "std",
        "title": {"short": "Dr"},
    }
    assert set_errors(VARS_SUITE, "callr.name") == [
        f"suite.yaml:{VARS_LINE}:1: --set 'callr.name': neither the suite nor environment "
        "'staging' has a var 'callr'; did you mean 'caller'? (vars: customer_id, caller, n)"
    ]


def test_set_of_a_var_of_another_environment_says_where_it_is() -> None:
    text = dump(
        suite(
            environments={"staging": {}, "production": {"vars": {"region": "eu"}}},
            default_environment="staging",
        )
    )
    assert suite_errors(text, overrides=((("region",), "us"),)) == [
        "suite.yaml:1:1: --set 'region': neither the suite nor environment 'staging' has a "
        "var 'region' (environment 'production' has it); define it under `vars`"
    ]
    plan = compile_text(text, overrides=((("region",), "us"),), environment="production")
    assert plan.selection.overrides == ("region",)


def test_set_on_a_suite_without_vars_points_at_the_suite() -> None:
    errors = suite_errors(dump(suite()), overrides=((("locale",), "en-US"),))
    assert errors == [
        "suite.yaml:1:1: --set 'locale': the suite has no var 'locale'; define it under `vars`"
    ]


def test_set_points_at_the_vars_it_could_have_meant() -> None:
    text = dump(suite(vars={"hotel_id": "h-1", "locale": "en"}))
    (error,) = suite_errors(text, overrides=((("hotel",), "h-9"), (("hotel",), "h-8")))
    line = text.splitlines().index("vars:") + 1
    assert error == (
        f"suite.yaml:{line}:1: --set 'hotel': the suite has no var 'hotel'; did you mean "
        "'hotel_id'? (vars: hotel_id, locale)"
    )


def test_vars_may_use_env_suite_and_environment() -> None:
    plan = compile_dict(
        two_rooms(
            vars={"label": "{{ suite.name }}/{{ environment }}/{{ env.REGION }}"},
            environments={"staging": {"room": "lab"}},
            default_environment="staging",
            scenarios=[{"id": 1, "publish_data_message": "{{ vars.label }}"}],
        ),
        environ={"REGION": "eu-west"},
    )
    assert plan.runs[0].publish_data_message == "checkout/staging/eu-west"


# ---- defaults and precedence ------------------------------------------------------------


def test_environment_defaults_over_suite_defaults_with_deep_merged_payload() -> None:
    # The env-demo example of docs/suite-format.md, with --env production.
    plan = compile_dict(
        two_rooms(
            vars={"customer_id": "c-100"},
            environments=ENVIRONMENTS,
            default_environment="staging",
            defaults={
                "timeout": "5m",
                "repeat": 2,
                "publish_data_message": {
                    "customer_id": "{{ vars.customer_id }}",
                    "environment": "{{ environment }}",
                },
            },
            scenarios=[{"id": 30}],
        ),
        environment="production",
    )
    assert plan.agent == 412
    assert [r.room for r in plan.runs] == ["prod_bot", "prod_bot"]
    assert {r.timeout for r in plan.runs} == {900.0}
    assert payloads(plan)[0] == {
        "customer_id": "c-100",
        "environment": "production",
        "traffic": "synthetic",
    }


def test_payload_deep_merge_docs_example() -> None:
    plan = compile_dict(
        suite(
            defaults={
                "publish_data_message": {
                    "caller": {"name": "Alex", "tier": "gold"},
                    "cart": ["margherita"],
                }
            },
            scenarios=[
                {
                    "id": 30,
                    "publish_data_message": {"caller": {"tier": "standard"}, "cart": ["calzone"]},
                }
            ],
        )
    )
    assert payloads(plan) == [{"caller": {"name": "Alex", "tier": "standard"}, "cart": ["calzone"]}]


def test_payload_merge_is_on_values_as_written() -> None:
    # A template string in the defaults is replaced by a mapping, not merged into.
    plan = compile_dict(
        suite(
            vars={"caller": {"name": "Alex"}},
            defaults={"publish_data_message": {"caller": "{{ vars.caller }}", "keep": 1}},
            scenarios=[{"id": 30, "publish_data_message": {"caller": {"tier": "std"}}}],
        )
    )
    assert payloads(plan) == [{"caller": {"tier": "std"}, "keep": 1}]


def test_non_mapping_payload_replaces_the_default() -> None:
    plan = compile_dict(
        suite(
            defaults={"publish_data_message": {"a": 1}},
            scenarios=[{"id": 30, "publish_data_message": ["x"]}],
        )
    )
    assert payloads(plan) == [["x"]]


def test_no_payload_anywhere_is_null() -> None:
    assert payloads(compile_dict(suite())) == [None]


def test_each_key_comes_from_the_most_specific_layer() -> None:
    plan = compile_dict(
        two_rooms(
            environments={"e": {"room": "lab", "defaults": {"repeat": 3}}},
            default_environment="e",
            defaults={"repeat": 2, "tags": ["smoke"], "timeout": "1m", "expect": {"min_passes": 1}},
            scenarios=[
                {
                    "id": 1,
                    "name": "own",
                    "repeat": 1,
                    "tags": ["billing"],
                    "timeout": 90,
                    "expect": {"pass_rate": 0.5},
                },
                {"id": 2, "name": "inherits"},
            ],
        )
    )
    own, inherits = plan.scenarios
    assert (own.repeat, own.tags, own.timeout, own.expect) == (
        1,
        ("billing",),
        90.0,
        Expectation(pass_rate=0.5),
    )
    assert (inherits.repeat, inherits.tags, inherits.timeout, inherits.expect) == (
        3,
        ("smoke",),
        60.0,
        Expectation(pass_rate=None, min_passes=1),
    )


# ---- rooms -------------------------------------------------------------------------------


def test_room_precedence_scenario_first() -> None:
    plan = compile_dict(
        two_rooms(
            environments={"e": {"room": "staging_bot"}},
            default_environment="e",
            defaults={"room": "prod_bot"},
            scenarios=[{"id": 1, "room": "lab"}],
        )
    )
    assert plan.runs[0].room == "lab"


def test_room_precedence_environment_room_over_defaults() -> None:
    plan = compile_dict(
        two_rooms(
            environments={"e": {"room": "staging_bot", "defaults": {"room": "lab"}}},
            default_environment="e",
            defaults={"room": "prod_bot"},
        )
    )
    assert plan.runs[0].room == "staging_bot"


def test_room_precedence_environment_defaults_over_suite_defaults() -> None:
    plan = compile_dict(
        two_rooms(
            environments={"e": {"defaults": {"room": "lab"}}},
            default_environment="e",
            defaults={"room": "prod_bot"},
        )
    )
    assert plan.runs[0].room == "lab"


def test_room_precedence_defaults_room() -> None:
    plan = compile_dict(two_rooms(defaults={"room": "prod_bot"}))
    assert plan.runs[0].room == "prod_bot"


def test_room_precedence_the_only_room() -> None:
    assert compile_dict(suite()).runs[0].room == "lab"


def test_no_room_among_several_is_an_error() -> None:
    with pytest.raises(SuiteError) as caught:
        compile_dict(two_rooms())
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == (
        "scenario 'order' has no room: set `room` on the scenario, in `defaults` or on the "
        "environment (rooms: staging_bot, prod_bot, lab)"
    )


def test_unknown_room_suggests_and_lists() -> None:
    errors = suite_errors("""
        version: 1
        name: checkout
        rooms:
          staging_bot: {source: static, url: u}
          prod_bot: {source: static, url: u}
        scenarios:
          - id: 1
            room: stagin_bot
    """)
    assert errors == [
        "suite.yaml:8:11: unknown room 'stagin_bot'; did you mean 'staging_bot'? "
        "(rooms: staging_bot, prod_bot)"
    ]


def test_room_specs_capacity_and_kind() -> None:
    plan = compile_dict(
        suite(
            rooms={
                "one": {"source": "static", "url": "u"},
                "two": {"source": "static", "rooms": [{"url": "a"}, {"url": "b"}]},
                "capped": {
                    "source": "static",
                    "rooms": [{"url": "a"}, {"url": "b"}],
                    "concurrency": 1,
                },
                "cloud": {"source": "pipecat_cloud", "agent_name": "a", "api_key": "k"},
                "cloud10": {
                    "source": "pipecat_cloud",
                    "agent_name": "a",
                    "api_key": "k",
                    "max_sessions": 10,
                    "concurrency": 20,
                },
                "daily": {"source": "daily", "api_key": "k"},
                "http": {"source": "http", "url": "http://127.0.0.1:7860/start", "concurrency": 2},
                "cmd": {"source": "command", "argv": ["./new-room.sh"]},
            },
            defaults={"room": "one"},
        )
    )
    capacity = {name: spec.capacity for name, spec in plan.rooms.items()}
    assert capacity == {
        "one": 1,
        "two": 2,
        "capped": 1,
        "cloud": 50,
        "cloud10": 10,
        "daily": None,
        "http": 2,
        "cmd": None,
    }
    assert plan.rooms["cloud"].source is RoomSourceKind.PIPECAT_CLOUD


ROOM_ENV_SUITE = """
    version: 1
    name: checkout
    vars:
      store: s-1
    rooms:
      bot:
        source: pipecat_cloud
        agent_name: "bot-{{ vars.store }}"
        api_key: "{{ env.PIPECAT_CLOUD_API_KEY }}"
        api_url: "{{ env.get('PIPECAT_API_HOST', 'https://api.pipecat.daily.co') }}"
        body: {region: "{{ env.REGION }}"}
    scenarios:
      - id: 1
"""


def test_rooms_are_not_rendered_at_plan_time() -> None:
    plan = compile_text(ROOM_ENV_SUITE, environ={})
    spec = plan.rooms["bot"]
    assert spec.env_names == ("PIPECAT_API_HOST", "PIPECAT_CLOUD_API_KEY", "REGION")
    assert spec.missing_env == ("PIPECAT_CLOUD_API_KEY", "REGION")


def test_missing_env_lists_only_unset_variables() -> None:
    plan = compile_text(ROOM_ENV_SUITE, environ={"REGION": "eu"})
    assert plan.rooms["bot"].missing_env == ("PIPECAT_CLOUD_API_KEY",)


def test_room_render_uses_the_real_environment() -> None:
    plan = compile_text(ROOM_ENV_SUITE, environ={})
    config = plan.rooms["bot"].render({"PIPECAT_CLOUD_API_KEY": "pk-123456789", "REGION": "eu"})
    assert config.name == "bot"
    assert config.source is RoomSourceKind.PIPECAT_CLOUD
    assert config.values == {
        "source": "pipecat_cloud",
        "agent_name": "bot-s-1",
        "api_key": "pk-123456789",
        "api_url": "https://api.pipecat.daily.co",
        "body": {"region": "eu"},
    }
    assert config.shown["api_key"] == "***"
    assert config.shown["agent_name"] == "bot-s-1"
    # The run's rooms report the secrets they read; the plan itself never changes.
    assert "pk-123456789" in config.secrets
    assert "pk-123456789" not in plan.secrets


def test_room_render_with_a_missing_variable_is_a_located_error() -> None:
    plan = compile_text(ROOM_ENV_SUITE, environ={})
    with pytest.raises(SuiteError) as caught:
        plan.rooms["bot"].render({"PIPECAT_CLOUD_API_KEY": "pk-123456789"})
    assert [str(d) for d in caught.value.diagnostics] == [
        "suite.yaml:11:20: environment variable REGION is not set: export it first "
        "(export REGION=...), or, if it is optional, read it with env.get('REGION', default)"
    ]


def test_room_templates_with_undefined_names_fail_at_plan_time() -> None:
    errors = suite_errors(ROOM_ENV_SUITE.replace("vars.store", "vars.stor"))
    assert len(errors) == 1
    assert errors[0].startswith("suite.yaml:8:17: undefined name vars.stor; did you mean 'store'?")


# ---- agent and ids -----------------------------------------------------------------------


def test_agent_from_environment_overrides_suite() -> None:
    plan = compile_dict(
        two_rooms(
            agent=1,
            environments={"e": {"agent": 2, "room": "lab"}, "f": {"room": "lab"}},
            default_environment="e",
        )
    )
    assert plan.agent == 2
    assert (
        compile_dict(
            two_rooms(
                agent=1,
                environments={"e": {"agent": 2, "room": "lab"}, "f": {"room": "lab"}},
                default_environment="e",
            ),
            environment="f",
        ).agent
        == 1
    )


def test_no_agent_is_none() -> None:
    assert compile_dict(suite()).agent is None


def test_agent_as_template() -> None:
    plan = compile_dict(suite(vars={"agent_id": 77}, agent="{{ vars.agent_id }}"))
    assert plan.agent == 77


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (42, 42),
        ("42", 42),
        ("{{ vars.sid }}", 42),
        ("{{ vars.sid_text }}", 42),
        ("{{ 40 + 2 }}", 42),
        ("{{ vars.sid }}{{ '' }}", 42),
    ],
)
def test_scenario_id_as_template_renders_to_an_integer(raw: Any, expected: int) -> None:
    plan = compile_dict(suite(vars={"sid": 42, "sid_text": "42"}, scenarios=[{"id": raw}]))
    assert plan.runs[0].scenario_id == expected
    assert plan.scenarios[0].id == expected


@pytest.mark.parametrize(
    "raw", ["{{ 0 }}", "{{ -3 }}", "abc", "{{ 'x' }}", "{{ 1.5 }}", "{{ true }}", "{{ [1] }}"]
)
def test_scenario_id_must_render_to_a_positive_integer(raw: str) -> None:
    with pytest.raises(SuiteError) as caught:
        compile_dict(suite(scenarios=[{"id": raw}]))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message.startswith("scenario id must be a positive integer, but renders to ")
    assert (diagnostic.line, diagnostic.col) == (8, 7)


def test_name_defaults_to_scenario_id() -> None:
    plan = compile_dict(suite(vars={"sid": "77"}, scenarios=[{"id": 5}, {"id": "{{ vars.sid }}"}]))
    assert [s.name for s in plan.scenarios] == ["scenario-5", "scenario-77"]
    assert [r.scenario for r in plan.runs] == ["scenario-5", "scenario-77"]


def test_scenario_id_from_the_environment_needs_a_name() -> None:
    errors = suite_errors(
        """
        version: 1
        name: checkout
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: "{{ env.SCENARIO_ID }}"
          - id: "{{ env.SCENARIO_ID }}"
            name: named
    """,
        environ={"SCENARIO_ID": "4242"},
    )
    assert len(errors) == 1
    assert errors[0].startswith("suite.yaml:6:9: ")
    assert "name" in errors[0]
    assert "4242" not in errors[0]


def test_scenario_names_in_templates() -> None:
    plan = compile_dict(
        suite(scenarios=[{"id": 5, "tags": ["a"], "publish_data_message": {"s": "{{ scenario }}"}}])
    )
    assert payloads(plan) == [{"s": {"id": 5, "name": "scenario-5", "tags": ["a"]}}]


def test_suite_in_templates() -> None:
    plan = compile_dict(suite(scenarios=[{"id": 5, "publish_data_message": "{{ suite }}"}]))
    assert payloads(plan) == [{"name": "checkout", "version": 1}]


# ---- timeouts and expect -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "seconds"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2m30s", 150.0),
        (600, 600.0),
        (1, 1.0),
    ],
)
def test_timeouts_in_seconds(timeout: Any, seconds: float) -> None:
    plan = compile_dict(suite(scenarios=[{"id": 1, "timeout": timeout}]))
    assert plan.runs[0].timeout == seconds
    assert plan.scenarios[0].timeout == seconds


def test_default_timeout_is_thirty_minutes() -> None:
    assert compile_dict(suite()).runs[0].timeout == 1800.0


def test_zero_duration_string_is_an_error() -> None:
    with pytest.raises(SuiteError) as caught:
        compile_dict(suite(scenarios=[{"id": 1, "timeout": "0m"}]))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == "timeout must be longer than zero, got '0m'"


def test_expect_default_and_explicit() -> None:
    plan = compile_dict(
        suite(
            scenarios=[
                {"id": 1},
                {"id": 2, "repeat": 5, "expect": {"min_passes": 4}},
                {"id": 3, "expect": {"pass_rate": 0.66}},
            ]
        )
    )
    assert [s.expect for s in plan.scenarios] == [
        Expectation(pass_rate=1.0),
        Expectation(pass_rate=None, min_passes=4),
        Expectation(pass_rate=0.66),
    ]


def test_min_passes_larger_than_repeat_is_an_error() -> None:
    errors = suite_errors("""
        version: 1
        name: checkout
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: 1
            repeat: 2
            expect: {min_passes: 3}
          - id: 2
            repeat: 3
            expect: {min_passes: 3}
    """)
    assert errors == [
        "suite.yaml:8:26: min_passes 3 is more than the 2 runs of each cell of "
        "scenario 'scenario-1': the cell could never pass"
    ]


# ---- names -------------------------------------------------------------------------------


def test_duplicate_scenario_names_are_errors() -> None:
    errors = suite_errors("""
        version: 1
        name: checkout
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: 1
            name: order
          - id: 2
            name: order
    """)
    assert errors == [
        "suite.yaml:8:5: scenario 'order' is already planned by the scenario at "
        "line 6: give one of them another name"
    ]


def test_same_name_with_different_cells_is_fine() -> None:
    plan = compile_dict(
        suite(
            scenarios=[
                {"id": 1, "name": "n", "matrix": {"l": ["en"]}},
                {"id": 2, "name": "n", "matrix": {"l": ["es"]}},
            ]
        )
    )
    assert [r.scenario_id for r in plan.runs] == [1, 2]


# ---- runs, selection ---------------------------------------------------------------------


SELECTION = suite(
    scenarios=[
        {"id": 30, "name": "order-happy-path", "tags": ["smoke", "orders"], "repeat": 2},
        {"id": 31, "name": "refund-request", "tags": ["smoke", "billing"]},
        {"id": 32, "name": "store-hours", "tags": ["faq"], "matrix": {"l": ["en", "es"]}},
    ],
    defaults={
        "publish_data_message": {
            "index": "{{ run.index }}",
            "key": "{{ run.key }}",
            "repeat": "{{ run.repeat }}",
        }
    },
)


def selected(**options: Any) -> list[str]:
    return [r.scenario for r in compile_dict(SELECTION, **options).runs]


def test_runs_in_order_scenario_cell_repeat() -> None:
    plan = compile_dict(SELECTION)
    assert [(r.scenario, r.cell, r.repeat) for r in plan.runs] == [
        ("order-happy-path", {}, 1),
        ("order-happy-path", {}, 2),
        ("refund-request", {}, 1),
        ("store-hours", {"l": "en"}, 1),
        ("store-hours", {"l": "es"}, 1),
    ]
    assert [r.index for r in plan.runs] == [0, 1, 2, 3, 4]
    assert plan.total_runs == 5


def test_run_fields_reach_templates() -> None:
    for run in compile_dict(SELECTION).runs:
        assert run.publish_data_message == {
            "index": run.index,
            "key": run.key,
            "repeat": run.repeat,
        }


def test_tag_selects_any_of() -> None:
    assert selected(tags=("billing",)) == ["refund-request"]
    assert selected(tags=("billing", "faq")) == ["refund-request", "store-hours", "store-hours"]


def test_scenario_selects_by_name_or_id() -> None:
    assert selected(scenarios=("store-hours", "30")) == [
        "order-happy-path",
        "order-happy-path",
        "store-hours",
        "store-hours",
    ]


def test_tag_and_scenario_together_must_both_match() -> None:
    assert selected(tags=("smoke",), scenarios=("refund-request", "store-hours")) == [
        "refund-request"
    ]
    assert selected(tags=("faq",), scenarios=("order-happy-path",)) == []


def test_index_is_the_position_after_selection_and_keys_do_not_change() -> None:
    whole = {r.key: r for r in compile_dict(SELECTION).runs}
    plan = compile_dict(SELECTION, tags=("faq",))
    assert [r.index for r in plan.runs] == [0, 1]
    assert [r.publish_data_message["index"] for r in plan.runs] == [0, 1]
    assert all(r.key in whole and whole[r.key].cell == r.cell for r in plan.runs)
    assert plan.total_runs == 5
    assert [s.name for s in plan.scenarios] == ["store-hours"]


def test_unknown_tag_is_a_usage_error_with_suggestion() -> None:
    with pytest.raises(UsageError) as caught:
        compile_dict(SELECTION, tags=("smok",))
    assert str(caught.value) == (
        "--tag 'smok': no scenario in suite.yaml has this tag; did you "
        "mean 'smoke'? (tags: billing, faq, orders, smoke)"
    )


def test_unknown_scenario_is_a_usage_error_with_suggestion() -> None:
    with pytest.raises(UsageError) as caught:
        compile_dict(SELECTION, scenarios=("store-hour",))
    assert str(caught.value) == (
        "--scenario 'store-hour': no scenario in suite.yaml has this "
        "name or id; did you mean 'store-hours'? (scenarios: order-happy-path (id 30), "
        "refund-request (id 31), store-hours (id 32))"
    )


def test_shard_keeps_a_subset_and_the_shards_partition_the_plan() -> None:
    whole = [r.key for r in compile_dict(SELECTION).runs]
    parts = [[r.key for r in compile_dict(SELECTION, shard=(i, 3)).runs] for i in (1, 2, 3)]
    assert sorted(k for part in parts for k in part) == sorted(whole)
    for part in parts:
        assert [k for k in whole if k in part] == part  # plan order is kept


def test_selection_is_recorded() -> None:
    plan = compile_dict(SELECTION, tags=("smoke",), shard=(1, 2))
    assert plan.selection.as_json() == {
        "environment": None,
        "tags": ["smoke"],
        "scenarios": [],
        "shard": "1/2",
        "set": [],
    }


def test_every_problem_of_a_suite_is_reported_together() -> None:
    errors = suite_errors("""
        version: 1
        name: checkout
        vars: {a: 1}
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: 1
            room: labb
            publish_data_message: {x: "{{ vars.b }}"}
          - id: 2
            repeat: 1
            expect: {min_passes: 2}
            timeout: 0s
    """)
    assert [e.split(": ")[0] for e in errors] == [
        "suite.yaml:8:11",
        "suite.yaml:9:31",
        "suite.yaml:12:26",
        "suite.yaml:13:14",
    ]


def test_lenient_env_plans_without_secrets() -> None:
    plan = compile_dict(
        suite(
            agent="{{ env.AGENT }}",
            scenarios=[{"id": 1, "publish_data_message": {"t": "{{ env.TOKEN }}"}}],
        ),
        lenient_env=True,
    )
    assert len(plan.runs) == 1


def test_strict_env_names_every_missing_variable() -> None:
    with pytest.raises(SuiteError) as caught:
        compile_dict(
            suite(
                agent="{{ env.AGENT }}",
                scenarios=[
                    {
                        "id": 1,
                        "publish_data_message": {"t": "{{ env.TOKEN }}", "u": "{{ env.USER_X }}"},
                    }
                ],
            )
        )
    messages = " ".join(d.message for d in caught.value.diagnostics)
    for name in ("AGENT", "TOKEN", "USER_X"):
        assert f"environment variable {name} is not set" in messages


def test_index_is_dense_within_a_shard() -> None:
    for i in (1, 2):
        plan = compile_dict(SELECTION, shard=(i, 2))
        assert [r.index for r in plan.runs] == list(range(len(plan.runs)))
        assert [r.publish_data_message["index"] for r in plan.runs] == [r.index for r in plan.runs]


def test_keys_do_not_depend_on_the_environment() -> None:
    the_suite = two_rooms(
        environments=ENVIRONMENTS,
        default_environment="staging",
        scenarios=[{"id": 1, "name": "a", "repeat": 2, "matrix": {"l": ["en", "es"]}}],
    )
    staging = compile_dict(the_suite, environment="staging")
    production = compile_dict(the_suite, environment="production")
    assert [r.key for r in staging.runs] == [r.key for r in production.runs]
    assert staging.runs[0].room != production.runs[0].room
