"""Secrets by origin, not by value: whatever a template computes from a secret is a secret.

A template that touched a secret (read `env`, or used context data holding one) is shown as
*** whole, its text is hidden in free text from then on, and its errors echo none of its
values. These tests check the canary and its common encodings never reach `specrunner
plan`'s output (text and JSON) or an error message, whatever the template did to it.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from click.testing import CliRunner

from conftest import compile_text, dump, suite_errors, write_suite
from specrunner.cli import main
from specrunner.masking import MASK, MIN_TEXT_SECRET, Secrets, SecretTracker, secret_forms
from specrunner.models import Plan
from specrunner.suite.sandbox import EnvProxy
from specrunner.suite.template import PAYLOAD_SCOPE, TemplateEngine, TemplateFailure

CANARY = "canary-XYZ123"
ENVIRON = {"SECRET": CANARY}


def _b64(text: str) -> list[str]:
    raw = text.encode()
    forms = [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    return forms + [f.rstrip("=") for f in forms]


CANARY_FORMS = (
    CANARY,
    CANARY.upper(),
    CANARY.lower(),
    CANARY[::-1],
    CANARY.upper()[::-1],
    "XYZ123",
    *_b64(CANARY),
    quote("sk/" + CANARY, safe=""),
)


def assert_no_canary(text: str) -> None:
    for form in CANARY_FORMS:
        assert form not in text, f"the secret shows as {form!r} in:\n{text}"


def plan_of(text: str) -> Plan:
    return compile_text(text, environ=ENVIRON)


def suite(payload: dict[str, Any], **extra: Any) -> str:
    data: dict[str, Any] = {
        "version": 1,
        "name": "taint",
        "vars": {
            "t": "{{ env.SECRET }}",
            "region": "eu-west-1",
            "nested": {"token": "{{ env.SECRET }}", "kind": "bearer"},
        },
        "rooms": {"lab": {"source": "static", "url": "https://acme.daily.co/lab"}},
        "scenarios": [{"id": 30, "name": "order", "publish_data_message": payload}],
    }
    data.update(extra)
    return dump(data)


# Each leaked the secret, or a value computed from it, before values were masked by origin.
LEAKS = {
    "concat_reverse": "{{ env.SECRET ~ ' ' ~ (env.SECRET|reverse) }}",
    "mapping_upper": "{{ {'a': env.SECRET, 'b': env.SECRET|upper} }}",
    "text_around": "x{{ env.SECRET }}y{{ env.SECRET|upper }}",
    "secret_key": "{{ {env.SECRET: 1} }}",
    "secret_key_upper": "{{ {env.SECRET|upper: 1} }}",
    "vars_upper": "{{ vars.t|upper }}",
    "vars_tojson": "{{ vars|tojson }}",
    "vars_dictsort": "{{ vars|dictsort|first|last|upper }}",
    "vars_as_text": "{{ (vars ~ '')|upper }}",
    "vars_tojson_upper": "{{ vars|tojson|upper }}",
    "container_filter": "{{ vars.nested|dictsort }}",
    "container_items": "{% for k, v in vars.nested|dictsort %}{{ v|upper }}{% endfor %}",
    "slice": "{{ env.SECRET[2:] }}",
    "split": "{{ vars.t.split('-') }}",
    "reverse_list": "{{ vars.t|list|reverse|join }}",
    "b64_like": "{{ vars.t|map('upper')|join }}",
    "attr_filter": "{{ (vars.t|attr('upper'))() }}",
    "getitem_computed": "{{ vars[('T')|lower]|upper }}",
    "macro": "{% macro f(x) %}{{ x|upper }}{% endmacro %}{{ f(env.SECRET) }}",
    "namespace": "{% set ns = namespace(v='') %}{% set ns.v = env.SECRET|upper %}{{ ns.v }}",
    "format": "{{ '%s!'|format(env.SECRET|upper) }}",
    "str_format": "{{ '{}!'.format(vars.t|upper) }}",
    "loop_chars": "{% for c in env.SECRET|upper %}{{ c }}{% endfor %}",
    "length": "{{ env.SECRET|length }}",
}


@pytest.mark.parametrize("name", sorted(LEAKS))
def test_a_value_computed_from_a_secret_is_shown_masked_whole(name: str) -> None:
    plan = plan_of(suite({"v": LEAKS[name]}))
    assert plan.runs[0].shown_payload == {"v": MASK}


def test_the_secret_is_still_sent() -> None:
    plan = plan_of(suite({k: LEAKS[k] for k in ("text_around", "mapping_upper")}))
    sent = plan.runs[0].publish_data_message
    assert sent == {
        "text_around": f"x{CANARY}y{CANARY.upper()}",
        "mapping_upper": {"a": CANARY, "b": CANARY.upper()},
    }


@pytest.fixture
def leaky_suite(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> Path:
    clean_environ.setenv("SECRET", CANARY)
    clean_environ.chdir(tmp_path)
    return write_suite(tmp_path, suite(LEAKS), "leaky.yaml")


@pytest.mark.parametrize("output", ["json", "text"])
def test_plan_output_never_shows_the_secret_or_an_encoding_of_it(
    leaky_suite: Path, output: str
) -> None:
    result = CliRunner().invoke(main, ["plan", "leaky.yaml", "--format", output])
    assert result.exit_code == 0, result.output
    assert_no_canary(result.output)
    if output == "json":
        shown = json.loads(result.stdout)["runs"][0]["publish_data_message"]
        assert shown == dict.fromkeys(LEAKS, MASK)


def test_validate_never_shows_the_secret(leaky_suite: Path) -> None:
    result = CliRunner().invoke(main, ["validate", "leaky.yaml"])
    assert result.exit_code == 0, result.output
    assert_no_canary(result.output)


def test_data_a_template_does_not_read_stays_visible() -> None:
    # `vars.t` is a secret; `vars.region` and `vars.nested.kind` are not.
    plan = plan_of(
        suite(
            {
                "region": "{{ vars.region }}",
                "kind": "{{ vars.nested.kind|upper }}",
                "item": "{{ vars['region'] }} {{ vars.nested['kind'] }}",
                "fallback": "{{ env.get('UNSET_NAME', 'd') }}",
                "missing_default": "{{ vars.nope|default('dflt') }}",
            }
        )
    )
    assert plan.runs[0].shown_payload == {
        "region": "eu-west-1",
        "kind": "BEARER",
        "item": "eu-west-1 bearer",
        "fallback": "d",
        "missing_default": MASK,  # `vars.nope` cannot be followed: all of `vars` is read
    }


def test_env_get_of_a_set_variable_is_a_secret() -> None:
    plan = plan_of(suite({"v": "{{ env.get('SECRET', 'd') }}"}))
    assert plan.runs[0].shown_payload == {"v": MASK}


# ---- error messages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ {env.SECRET|upper: 1}['zz'] }}", "undefined name 'zz'"),
        ("{{ {env.SECRET|upper: 1}.zz }}", "undefined name 'zz'"),
        ("{{ [env.SECRET|upper, 2][7] }}", "index 7 is out of range"),
        ("{{ {1: env.SECRET|upper} }}", "template renders to a mapping with a non-string key"),
        ("{{ env[env.SECRET|reverse] }}", "environment variable *** is not set"),
        ("{{ ''|attr('_' ~ env.SECRET|upper) }}", "has no attribute '***'"),
        ("{{ vars.t.__class__ }}", "template not allowed: access to attribute '__class__'"),
        ("{{ (env.SECRET|upper) + 1 }}", "template error: TypeError (details hidden"),
        ("{{ ('{' ~ vars.t|upper ~ '}').format() }}", "template error: KeyError (details hidden"),
    ],
)
def test_errors_of_a_template_that_read_a_secret_echo_none_of_its_values(
    source: str, message: str
) -> None:
    (error,) = suite_errors(suite({"v": source}), environ=ENVIRON)
    assert message in error
    assert "known" not in error and "did you mean" not in error
    assert_no_canary(error)


def test_the_suites_own_keys_are_still_suggested_in_a_template_that_reads_a_secret() -> None:
    # The keys of `vars` are written in the suite, not computed from the secret.
    (error,) = suite_errors(suite({"v": "{{ vars.regoin ~ vars.t }}"}), environ=ENVIRON)
    assert error.endswith(
        "undefined name vars.regoin; did you mean 'region'? (known: nested, region, t)"
    )


@pytest.mark.parametrize("command", ["plan", "validate"])
def test_cli_errors_never_show_the_secret(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch, command: str
) -> None:
    clean_environ.setenv("SECRET", CANARY)
    clean_environ.chdir(tmp_path)
    payload = {
        "a": "{{ {env.SECRET|upper: 1}['zz'] }}",
        "b": "{{ {vars.t|reverse: 1}[vars.t] }}",
        "c": "{{ vars[vars.t|upper] }}",
        "d": "{{ (vars|tojson|upper) + 1 }}",
    }
    write_suite(tmp_path, suite(payload), "err.yaml")
    result = CliRunner().invoke(main, [command, "err.yaml"])
    assert result.exit_code == 2, result.output
    assert result.output.count("err.yaml:") >= 3
    assert_no_canary(result.output)


# ---- rooms ---------------------------------------------------------------------------------


def test_room_values_computed_from_a_secret_are_masked_whole() -> None:
    text = suite(
        {},
        rooms={
            "bot": {
                "source": "pipecat_cloud",
                "agent_name": "bot-{{ vars.region }}",
                "api_key": "Bearer {{ env.SECRET|upper }}",
                "body": "{{ {'k': vars.t|reverse, 'region': vars.region} }}",
            }
        },
    )
    plan = plan_of(text.replace("room: lab", "room: bot"))
    config = plan.rooms["bot"].render(ENVIRON)
    assert config.values["api_key"] == f"Bearer {CANARY.upper()}"
    assert config.shown["api_key"] == MASK
    assert config.shown["body"] == MASK
    assert config.shown["agent_name"] == "bot-eu-west-1"
    assert_no_canary(json.dumps(config.shown))


# ---- the secrets record --------------------------------------------------------------------


def test_every_common_encoding_of_a_secret_is_hidden_in_free_text() -> None:
    secret = 'tok/en "x" <y> & z'
    hidden = Secrets([secret])
    forms = secret_forms(secret)
    assert quote(secret, safe="") in forms
    assert secret.upper() in forms and secret[::-1] in forms
    for form in forms:
        assert hidden.redact_text(f"echo: {form}.") == "echo: ***."


def test_encodings_of_short_secrets_are_not_searched_for() -> None:
    # "471" reversed is "174", which free text has for many other reasons.
    hidden = Secrets(["471"])
    assert hidden.redact_text("line 174", min_length=1) == "line 174"
    assert hidden.redact_text("pin 471", min_length=1) == "pin ***"


def test_encodings_are_not_secrets_of_their_own() -> None:
    hidden = Secrets([CANARY])
    assert CANARY in hidden
    assert CANARY.upper() not in hidden
    assert list(hidden) == [CANARY]


def test_the_longest_hidden_value_wins_where_several_start() -> None:
    hidden = Secrets(["abcd", "abcdef", "abc-long-secret", "xyz1"])
    assert hidden.redact_text("xabcdefx abcdx abcde abc-long-secretz") == "x***x ***x ***e ***z"


def test_many_hidden_values_are_searched_for_quickly() -> None:
    # Thousands of derived values (a per-run template computed from a secret) must not make
    # every line of output slow to mask: the pattern is a trie, not a list.
    derived = [f"v{i:05d}-{i * 7919 % 10007:05d}" for i in range(5000)]
    hidden = Secrets([CANARY], derived=derived)
    text = ("some ordinary text, nothing secret in it; " * 5000) + derived[4321]
    start = time.monotonic()
    shown = hidden.redact_text(text)
    assert time.monotonic() - start < 2.0
    assert shown.endswith(" ***") and shown.count(MASK) == 1


def test_hidden_values_sharing_long_prefixes_still_work() -> None:
    prefixes = ["k" * n for n in range(4, 400)]  # too deep a trie for `re`: a plain list
    assert Secrets(prefixes).redact_text("a kkkkkk b kkk") == "a *** b kkk"


def test_redact_hides_secrets_in_keys_too() -> None:
    hidden = Secrets([CANARY])
    data = {CANARY: 1, "a": {f"x{CANARY}": [CANARY.upper()]}, "***": 2}
    assert hidden.redact(data) == {"*** (2)": 1, "a": {"x***": ["***"]}, "***": 2}


def test_secrets_compile_their_pattern_once() -> None:
    hidden = Secrets([CANARY, "another-secret"])
    assert hidden.redact_text(CANARY) == MASK
    (part,) = hidden._parts
    pattern = part.pattern(MIN_TEXT_SECRET)
    assert hidden.redact_text("another-secret") == MASK
    assert part.pattern(MIN_TEXT_SECRET) is pattern


def test_a_tracker_compiles_only_what_it_found_since_it_last_hid_something() -> None:
    # A run finds a secret per room it leases (its token), and hides text in between: each
    # time, only the new secrets are compiled, not all of them again.
    tracker = SecretTracker([CANARY])
    start = time.monotonic()
    for i in range(400):
        tracker.add(f"https://rooms.example/r-{i:04d}?t=eyJhbGciOiJIUzI1NiJ9.{i:06d}")
        assert tracker.secrets.redact_text(f"lost {CANARY.upper()}") == "lost ***"
    assert time.monotonic() - start < 5.0
    secrets = tracker.secrets
    assert len(secrets._parts) < 10
    shown = secrets.redact_text("a https://rooms.example/r-0005?t=eyJhbGciOiJIUzI1NiJ9.000005 b")
    assert shown == "a *** b"


def test_derived_values_are_hidden_in_free_text_unless_short_or_already_hidden() -> None:
    tracker = SecretTracker([CANARY])
    tracker.add_derived("n-XYZ1")  # a part of the secret
    tracker.add_derived("abc")  # too short to tell apart
    tracker.add_derived(f"Bearer {CANARY}")  # free text hides the secret in it already
    secrets = tracker.secrets
    assert secrets.derived == {"n-XYZ1"}
    assert "n-XYZ1" not in secrets  # not a secret of its own (ids, agents)
    assert secrets.redact_text("got n-XYZ1 back") == "got *** back"
    assert SecretTracker(secrets).secrets == secrets


def test_a_plan_hides_what_templates_computed_from_a_secret() -> None:
    plan = plan_of(
        suite(
            {
                "sliced": "{{ env.SECRET[3:10] }}",
                "mixed": "{{ {'region': vars.region, 'tail': vars.t[-6:]|lower} }}",
            }
        )
    )
    assert plan.secrets.derived == {"ary-XYZ", "xyz123"}
    # The suite's own text in it ("region", "eu-west-1") is not hidden.
    assert plan.secrets.redact_text("eu-west-1 region ary-XYZ") == "eu-west-1 region ***"


# ---- the engine ----------------------------------------------------------------------------


def render(source: str, context: dict[str, Any]) -> tuple[Any, Any]:
    tracker = SecretTracker()
    engine = TemplateEngine(tracker)
    problems: list[TemplateFailure] = []
    node = engine.compile(source, ("p",), PAYLOAD_SCOPE, problems)
    assert problems == []
    env = EnvProxy(ENVIRON, lenient=False, tracker=tracker)
    names: dict[str, Any] = {name: {} for name in PAYLOAD_SCOPE - {"env"}}
    return engine.render(node, engine.context(**{**names, **context, "env": env}))


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("{{ env.get('UNSET', 'd') }}", "d"),
        ("{{ env.get('UNSET') }}", None),
        ("{{ vars.a }}", "public"),
        ("{{ vars.list[0] }}", 1),
        ("{{ matrix }}", {"locale": "en"}),
    ],
)
def test_the_engine_shows_values_that_touched_no_secret(source: str, value: Any) -> None:
    context = {"vars": {"a": "public", "list": [1, 2]}, "matrix": {"locale": "en"}}
    assert render(source, context) == (value, value)


@pytest.mark.parametrize(
    "source",
    [
        "{{ env.SECRET }}",
        "{{ env.SECRET|length > 0 }}",
        "{{ 'yes' if env.SECRET else 'no' }}",
        "{{ env['SECRET'] and 1 }}",
        "{{ env|attr('SECRET') }}",
    ],
)
def test_the_engine_masks_anything_that_read_env(source: str) -> None:
    value, shown = render(source, {})
    assert shown == MASK
    assert value is not None


def test_a_scenario_id_from_the_environment_is_a_secret_in_its_templates() -> None:
    data = yaml.safe_load(suite({"a": "{{ scenario.id }}", "b": "{{ scenario.id + 1 }}"}))
    data["scenarios"][0]["id"] = "{{ env.SID }}"
    plan = compile_text(dump(data), environ={**ENVIRON, "SID": "4242424"})
    assert plan.runs[0].publish_data_message == {"a": 4242424, "b": 4242425}
    assert plan.runs[0].shown_payload == {"a": MASK, "b": MASK}


def test_a_plain_scenario_id_stays_visible_beside_secret_vars() -> None:
    plan = plan_of(suite({"a": "{{ scenario.id }}", "t": "{{ vars.t }}"}))
    assert plan.runs[0].shown_payload == {"a": 30, "t": MASK}
