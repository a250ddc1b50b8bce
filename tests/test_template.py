"""Templates: sandboxed Jinja2, native types for a lone expression, strict names, compiled once."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from conftest import compile_text, dump, payloads, suite_errors, valid_doc
from specrunner.masking import SecretTracker
from specrunner.suite.compile import CompileOptions, _Compiler
from specrunner.suite.sandbox import EnvProxy, MissingEnv
from specrunner.suite.template import (
    PAYLOAD_SCOPE,
    SUITE_SCOPE,
    VARS_SCOPE,
    Level,
    TemplateEngine,
    TemplateFailure,
)


def suite_with_payload(value: Any, **extra: Any) -> str:
    """A one-run suite whose payload is {"v": value}."""
    suite: dict[str, Any] = {
        "version": 1,
        "name": "tpl",
        "vars": {
            "caller": {"name": "Alex", "tier": "gold"},
            "store": "pizzeria-42",
            "cart": [1, 2],
        },
        "rooms": {"lab": {"source": "static", "url": "https://acme.daily.co/lab"}},
        "scenarios": [{"id": 30, "name": "order", "publish_data_message": {"v": value}}],
    }
    suite.update(extra)
    return dump(suite)


def rendered(value: Any, environ: dict[str, str] | None = None, **extra: Any) -> Any:
    plan = compile_text(suite_with_payload(value, **extra), environ=environ or {})
    return plan.runs[0].publish_data_message["v"]


def errors_for(value: Any, environ: dict[str, str] | None = None, **extra: Any) -> list[str]:
    return suite_errors(suite_with_payload(value, **extra), environ=environ or {})


PAYLOAD_LINE = 19  # where the value of `v:` stands in suite_with_payload's YAML
PAYLOAD_COL = 8


def the_error(value: Any, environ: dict[str, str] | None = None) -> str:
    """The single error a payload template gives, checked to point at the template."""
    errors = errors_for(value, environ)
    assert len(errors) == 1, errors
    prefix = f"suite.yaml:{PAYLOAD_LINE}:{PAYLOAD_COL}: "
    assert errors[0].startswith(prefix), errors[0]
    return errors[0].removeprefix(prefix)


def test_payload_line_constant_is_right() -> None:
    text = suite_with_payload("x")
    assert text.splitlines()[PAYLOAD_LINE - 1] == "    v: x"


# ---- types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("{{ run.repeat }}", 1),
        ("{{ vars.caller }}", {"name": "Alex", "tier": "gold"}),
        ("{{ vars.cart }}", [1, 2]),
        ("{{ matrix.interrupt | default(false) }}", False),
        ("{{ 0.5 }}", 0.5),
        ("{{ none }}", None),
        ("{{ environment }}", None),
        ("{{ (1, 2) }}", [1, 2]),
        ("{{ {'a': run.repeat} }}", {"a": 1}),
        ("{{ scenario.id + 1 }}", 31),
        ("{{ '}}' }}", "}}"),
        ("{{- run.repeat -}}", 1),
        ("{{ vars.store }}", "pizzeria-42"),
    ],
)
def test_a_lone_expression_keeps_its_type(source: str, value: Any) -> None:
    result = rendered(source)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("attempt {{ run.repeat }}", "attempt 1"),
        ("{{ run.repeat }}{{ run.repeat }}", "11"),
        ("  {{ run.repeat }}", "  1"),
        ("{{ run.repeat }}\n", "1\n"),
        ("{% if true %}{{ 3 }}{% endif %}", "3"),
        ("{{ run.repeat }} {# note #}", "1 "),
        ("{# only a comment #}", ""),
        ("{% raw %}{{ x }}{% endraw %}", "{{ x }}"),
        ("{{ vars.caller.name }} at {{ vars.store }}", "Alex at pizzeria-42"),
    ],
)
def test_anything_else_renders_to_a_string(source: str, value: str) -> None:
    assert rendered(source) == value


def test_plain_strings_are_not_templates() -> None:
    assert rendered("50% off, {not a template}") == "50% off, {not a template}"


def test_non_strings_pass_through() -> None:
    assert rendered({"n": 1, "b": True, "l": [None, 2.5]}) == {"n": 1, "b": True, "l": [None, 2.5]}


def test_default_filter_for_optional_values() -> None:
    assert rendered('{{ vars.region | default("eu") }}') == "eu"


# ---- env ---------------------------------------------------------------------------------


def test_env_attribute_item_and_get() -> None:
    environ = {"STORE_ID": "s-17"}
    assert rendered("{{ env.STORE_ID }}", environ) == "s-17"
    assert rendered('{{ env["STORE_ID"] }}', environ) == "s-17"
    assert rendered('{{ env.get("STORE_ID", "fallback") }}', environ) == "s-17"
    assert rendered('{{ env.get("UNSET_ONE", "fallback") }}', environ) == "fallback"
    assert rendered('{{ env.get("UNSET_ONE") }}', environ) is None


def test_missing_env_names_the_variable_and_says_to_export_it_first() -> None:
    message = the_error("{{ env.CHECKOUT_TOKEN }}")
    assert message == (
        "environment variable CHECKOUT_TOKEN is not set: export it first "
        "(export CHECKOUT_TOKEN=...), or, if it is optional, read it with "
        "env.get('CHECKOUT_TOKEN', default)"
    )
    assert message.index("export it first") < message.index("env.get(")


def test_missing_env_with_a_name_no_shell_can_export_gives_no_export_line() -> None:
    message = the_error('{{ env["checkout token"] }}')
    assert message == (
        "environment variable checkout token is not set: export it first, or, if it is "
        "optional, read it with env.get('checkout token', default)"
    )


def test_missing_env_by_item_names_the_variable() -> None:
    assert "CHECKOUT_TOKEN is not set" in the_error('{{ env["CHECKOUT_TOKEN"] }}')


def test_env_is_not_a_value() -> None:
    assert "env.NAME" in the_error("{{ env }}")


def test_env_proxy_lenient_mode_remembers_missing_names() -> None:
    tracker = SecretTracker()
    proxy = EnvProxy({"SET": "value-1"}, lenient=True, tracker=tracker)
    assert proxy.SET == "value-1"
    assert "value-1" in tracker
    placeholder = proxy.UNSET
    assert "UNSET" in placeholder
    assert proxy.missing == {"UNSET"}
    assert proxy.used == {"SET", "UNSET"}


def test_env_proxy_strict_mode_raises() -> None:
    proxy = EnvProxy({}, lenient=False, tracker=SecretTracker())
    with pytest.raises(MissingEnv) as caught:
        _ = proxy.NOPE
    assert caught.value.name == "NOPE"


# ---- sandbox -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ run.__class__ }}",
        "{{ env.__class__ }}",
        "{{ 'a'.__len__() }}",
        "{{ vars.cart.append(3) }}",
        "{{ vars.caller.update({'x': 1}) }}",
    ],
)
def test_sandbox_refuses_internals_and_mutation(source: str) -> None:
    assert the_error(source).startswith("template not allowed: ")


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 10**9 }}",
        "{{ 10**9 * 'a' }}",
        "{{ [1] * 10**8 }}",
        "{{ 2 ** 100000 }}",
        "{{ 'x' * 10 * 10**6 }}",
    ],
)
def test_enormous_operators_are_refused(source: str) -> None:
    assert the_error(source).startswith("template not allowed: ")


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' | center(10**7) }}",
        "{{ '{:>10000000}'.format('x') }}",
    ],
)
def test_enormous_results_from_filters_and_formatting_are_refused(source: str) -> None:
    # The docs: "results that would be enormous are refused". 10 MB is ten times the
    # engine's own MAX_RENDERED_SIZE.
    assert the_error(source)


def test_large_but_reasonable_results_are_fine() -> None:
    assert rendered("{{ 'ab' * 1000 }}") == "ab" * 1000


def test_range_is_bounded() -> None:
    assert the_error("{{ range(10**9) | list | length }}")


# ---- undefined names ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["items", "values"])
def test_matrix_names_that_are_dict_methods_read_the_cell(name: str) -> None:
    # The docs promise `matrix.NAME` for every valid matrix variable name; Jinja's
    # attribute lookup finds dict methods first.
    text = dump(
        {
            "version": 1,
            "name": "tpl",
            "rooms": {"lab": {"source": "static", "url": "u"}},
            "scenarios": [
                {
                    "id": 1,
                    "matrix": {name: ["a"]},
                    "publish_data_message": {"v": "{{ matrix." + name + " }}"},
                }
            ],
        }
    )
    assert payloads(compile_text(text)) == [{"v": "a"}]


def test_undefined_top_level_name_suggests_a_close_one() -> None:
    assert the_error("{{ varz.store }}") == (
        "undefined name 'varz' in template; did you mean 'vars'? (names available here: "
        "env, environment, matrix, run, scenario, suite, vars)"
    )


def test_undefined_attribute_of_vars_suggests_a_close_key() -> None:
    assert the_error("{{ vars.stor }}") == (
        "undefined name vars.stor; did you mean 'store'? (known: caller, cart, store)"
    )


def test_undefined_attribute_in_a_string_template() -> None:
    assert the_error("store {{ vars.stor }}").startswith(
        "undefined name vars.stor; did you mean 'store'?"
    )


def test_undefined_nested_attribute_suggests_a_close_key() -> None:
    assert "did you mean 'name'?" in the_error("{{ vars.caller.nme }}")


def test_undefined_in_empty_matrix() -> None:
    assert the_error("{{ matrix.locale }}") == "undefined name matrix.locale (it is empty)"


def test_index_out_of_range() -> None:
    assert the_error("{{ vars.cart[5] }}") == "index 5 is out of range for a list of 2"


def test_undefined_attribute_of_a_string_speaks_plainly() -> None:
    # A message for people: no Python module paths or internal class names.
    message = the_error("{{ env.STORE_ID.first }}", {"STORE_ID": "s-17"})
    assert "first" in message
    assert "specrunner." not in message
    assert "SecretStr" not in message


@pytest.mark.parametrize(
    "source", ["{{ 'a' | no_such_filter }}", "x {{ 'a' | nosuch }}", "{{ 'a' is no_such_test }}"]
)
def test_unknown_filter_or_test_is_a_located_error(source: str) -> None:
    # Jinja raises TemplateAssertionError when it compiles these, after parsing succeeded.
    errors = suite_errors(suite_with_payload(source))
    assert len(errors) == 1
    assert errors[0].startswith(f"suite.yaml:{PAYLOAD_LINE}:{PAYLOAD_COL}: ")
    assert "no_such" in errors[0] or "nosuch" in errors[0]


def test_unknown_filter_in_a_room_is_a_located_error() -> None:
    text = dump(
        {
            "version": 1,
            "name": "tpl",
            "rooms": {"lab": {"source": "static", "url": "{{ 'u' | nosuch }}"}},
            "scenarios": [{"id": 1}],
        }
    )
    errors = suite_errors(text)
    assert len(errors) == 1
    assert errors[0].startswith("suite.yaml:6:10: ")


def test_syntax_error_is_located_at_the_string() -> None:
    assert the_error("{{ matrix.locale }").startswith("template syntax error: ")
    assert the_error("{% if true %}x").startswith("template syntax error: ")


def test_syntax_error_in_a_multi_line_template_names_its_line() -> None:
    assert "(line 2 of the template)" in the_error("ok\n{{ oops( }}")


def test_runtime_errors_are_located() -> None:
    assert the_error("{{ 1 / 0 }}") == "template error: ZeroDivisionError: division by zero"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ ''.join }}", "not a JSON value"),
        ("{{ range(3) }}", "not a JSON value"),
        ("{{ {1: 2} }}", "non-string key"),
    ],
)
def test_values_that_are_not_json_are_errors(source: str, fragment: str) -> None:
    assert fragment in the_error(source)


# ---- scopes ------------------------------------------------------------------------------


def test_payload_names_are_not_available_in_rooms() -> None:
    text = dump(
        {
            "version": 1,
            "name": "tpl",
            "rooms": {"lab": {"source": "static", "url": "https://x/{{ matrix.locale }}"}},
            "scenarios": [{"id": 1, "matrix": {"locale": ["en"]}}],
        }
    )
    assert suite_errors(text) == [
        "suite.yaml:6:10: 'matrix' is not available here; names available here: env, "
        "environment, suite, vars"
    ]


def test_vars_cannot_use_vars() -> None:
    text = dump(
        {
            "version": 1,
            "name": "tpl",
            "vars": {"a": 1, "b": "{{ vars.a }}"},
            "rooms": {"lab": {"source": "static", "url": "u"}},
            "scenarios": [{"id": 1}],
        }
    )
    assert suite_errors(text) == [
        "suite.yaml:5:6: 'vars' is not available here; names available here: env, "
        "environment, suite"
    ]


def test_scenario_id_cannot_use_per_run_names() -> None:
    # One problem, one line: not also "scenario id must be a positive integer, but renders
    # to '{{ run.repeat }}'" for a template that was never rendered.
    text = dump(
        {
            "version": 1,
            "name": "tpl",
            "rooms": {"lab": {"source": "static", "url": "u"}},
            "scenarios": [{"id": "{{ run.repeat }}", "name": "s"}],
        }
    )
    assert suite_errors(text) == [
        "suite.yaml:8:7: 'run' is not available here; names available here: env, "
        "environment, suite, vars"
    ]


def test_scopes_are_nested() -> None:
    assert VARS_SCOPE < SUITE_SCOPE < PAYLOAD_SCOPE
    assert "vars" not in VARS_SCOPE
    assert "matrix" not in SUITE_SCOPE


# ---- the engine: compile once, levels -----------------------------------------------------


def compile_one(engine: TemplateEngine, source: Any, scope: frozenset[str] = PAYLOAD_SCOPE):
    problems: list[TemplateFailure] = []
    node = engine.compile(source, ("p",), scope, problems)
    assert problems == []
    return node


def test_levels_follow_the_most_specific_name() -> None:
    engine = TemplateEngine(SecretTracker())
    assert compile_one(engine, "{{ suite.name }}").level is Level.SUITE
    assert compile_one(engine, "{{ scenario.name }}").level is Level.SCENARIO
    assert compile_one(engine, "{{ matrix.x }} {{ suite.name }}").level is Level.CELL
    assert compile_one(engine, "{{ run.key }}").level is Level.RUN


def test_compile_problems_are_collected_not_raised() -> None:
    engine = TemplateEngine(SecretTracker())
    problems: list[TemplateFailure] = []
    engine.compile({"a": "{{ nope }}", "b": ["{{ x( }}"]}, ("p",), PAYLOAD_SCOPE, problems)
    assert sorted(p.path for p in problems) == [("p", "a"), ("p", "b", 0)]


def test_the_same_template_string_is_compiled_once() -> None:
    engine = TemplateEngine(SecretTracker())
    for i in range(50):
        compile_one(engine, {"a": "{{ run.repeat }}", "b": f"n{i}", "c": ["{{ suite.name }}"]})
    assert len(engine._cache) == 2


def test_planning_many_runs_compiles_each_template_once() -> None:
    suite = {
        "version": 1,
        "name": "many",
        "vars": {"who": "{{ environment }}-caller", "store": "s-1"},
        "rooms": {
            "bot": {
                "source": "pipecat_cloud",
                "agent_name": "bot-{{ vars.store }}",
                "api_key": "{{ env.get('KEY', 'k') }}",
            }
        },
        "defaults": {
            "repeat": 4,
            "publish_data_message": {
                "suite": "{{ suite.name }}",
                "key": "{{ run.key }}",
                "who": "{{ vars.who }} ({{ scenario.name }})",
            },
        },
        "scenarios": [
            {
                "id": 100 + i,
                "name": f"s{i}",
                "matrix": {"locale": ["en", "es", "fr"]},
                "publish_data_message": {
                    "locale": "{{ matrix.locale }}",
                    "attempt": "attempt {{ run.repeat }}",
                },
            }
            for i in range(40)
        ],
    }
    distinct = {
        "{{ environment }}-caller",
        "bot-{{ vars.store }}",
        "{{ env.get('KEY', 'k') }}",
        "{{ suite.name }}",
        "{{ run.key }}",
        "{{ vars.who }} ({{ scenario.name }})",
        "{{ matrix.locale }}",
        "attempt {{ run.repeat }}",
    }
    compiler = _Compiler(valid_doc(dump(suite)), CompileOptions(environ={}))
    plan = compiler.plan()
    assert len(plan.runs) == 40 * 3 * 4
    assert len(compiler.engine._cache) == len(distinct)
    first = plan.runs[0].publish_data_message
    assert first == {
        "suite": "many",
        "key": plan.runs[0].key,
        "who": "None-caller (s0)",
        "locale": "en",
        "attempt": "attempt 1",
    }


def test_each_run_gets_its_own_values() -> None:
    text = dump(
        {
            "version": 1,
            "name": "tpl",
            "rooms": {"lab": {"source": "static", "url": "u"}},
            "scenarios": [
                {
                    "id": 1,
                    "repeat": 3,
                    "publish_data_message": {"v": "{{ run.repeat }}/{{ run.index }}/{{ run.key }}"},
                }
            ],
        }
    )
    plan = compile_text(text)
    assert payloads(plan) == [{"v": f"{r.repeat}/{r.index}/{r.key}"} for r in plan.runs]
    assert [r.repeat for r in plan.runs] == [1, 2, 3]


def test_rendered_json_round_trips() -> None:
    value = rendered({"a": "{{ vars.caller }}", "b": ["{{ run.repeat }}", "x{{ 1 }}"]})
    assert json.loads(json.dumps(value)) == value


# ---- text and chains of lookups, rendered without Jinja ----------------------------------


@pytest.mark.parametrize(
    ("source", "parts"),
    [
        ("{{ run.key }}", (("run", ("key",)),)),
        ("{{ vars['caller'].name }}", (("vars", ("caller", "name")),)),
        ("{{- matrix.locale -}}", (("matrix", ("locale",)),)),
        ("{{ vars.cart[0] }}", (("vars", ("cart", 0)),)),
        ("attempt {{ run.repeat }}", ("attempt ", ("run", ("repeat",)))),
        ("a  {{- run.key -}}  b\n", ("a", ("run", ("key",)), "b\n")),
        (
            "{{ run.key }}{# note #}/{{ run.repeat }}",
            (("run", ("key",)), "/", ("run", ("repeat",))),
        ),
        ("{{ run.key | upper }}", None),
        ("key {{ run.key ~ 'x' }}", None),
        ("{{ env.TOKEN }}", None),
        ("{{ run[run.key] }}", None),
        ("{% if true %}{{ run.key }}{% endif %}", None),
        ("{{ 'x' }}", None),
    ],
)
def test_a_template_of_text_and_chains_of_lookups_is_known_as_one(
    source: str, parts: tuple[Any, ...] | None
) -> None:
    node = compile_one(TemplateEngine(SecretTracker()), source)
    assert getattr(node, "parts", None) == parts


def _context(engine: TemplateEngine) -> dict[str, Any]:
    from specrunner.suite.sandbox import SecretDict, SecretStr

    return engine.context(
        env=EnvProxy({"TOKEN": "tok-123456"}, lenient=False, tracker=engine.tracker),
        suite={"name": "tpl", "version": 1},
        environment=None,
        vars={
            "store": "pizzeria-42",
            "cart": [1, 2],
            "token": SecretStr("tok-123456"),
            "auth": SecretDict({"kind": "bearer", "value": SecretStr("tok-123456")}),
            "ratio": 0.5,
            "big": 1e16,
            "odd": float("nan"),
            "huge": "x" * 300_000,
            "flag": True,
            "nothing": None,
            "numbers": {1: "one"},
            "unicode": "Zoë \u202e",
        },
        scenario={"id": 30, "name": "order", "tags": []},
        matrix={"values": "the key", "locale": "en"},
        run={"repeat": 1, "index": 0, "key": "k-1"},
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{ run.key }}",
        "{{ run.repeat }}",
        "{{ vars.store }}",
        "{{ vars['store'] }}",
        "{{ vars.ratio }}",
        "{{ vars.flag }}",
        "{{ vars.nothing }}",
        "{{ vars.numbers[1] }}",
        "{{ matrix.values }}",
        "{{ matrix.items }}",
        "{{ vars.cart }}",
        "{{ vars.cart[0] }}",
        "{{ vars.cart[7] }}",
        "{{ vars.token }}",
        "{{ vars.auth.kind }}",
        "{{ vars.auth.value }}",
        "{{ vars.odd }}",
        "{{ vars.huge }}",
        "{{ vars.stor }}",
        "{{ vars.store.missing }}",
        "{{ run.key.upper }}",
        "attempt {{ run.repeat }} of {{ vars.store }}",
        "{{ vars.flag }} {{ vars.nothing }} {{ vars.ratio }} {{ vars.big }} {{ vars.odd }}",
        "{{ vars.unicode }}!",
        "a  {{- run.key -}}  b\n",
        "{{ vars.cart }} and {{ vars.store }}",
        "key {{ vars.token }}",
        "kind {{ vars.auth.kind }}, {{ vars.auth }}",
        "{{ vars.stor }} x",
        "{{ vars.huge }}{{ vars.huge }}{{ vars.huge }}{{ vars.huge }}",
    ],
)
def test_text_and_chains_of_lookups_render_as_jinja_renders_them(source: str) -> None:
    """The same value, mask and error with the engine's own lookups as through Jinja."""

    def outcome(plain: bool) -> tuple[Any, ...]:
        engine = TemplateEngine(SecretTracker())
        node = compile_one(engine, source)
        if not plain:
            node = dataclasses.replace(node, parts=None)
        try:
            value, shown = engine.render(node, _context(engine))
        except TemplateFailure as failure:
            return ("failed", failure.message)
        return (value, type(value), shown, sorted(engine.tracker.secrets))

    assert outcome(plain=True) == outcome(plain=False)
