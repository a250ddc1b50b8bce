"""Secrets: values read from env never appear in output; they show as ***."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import compile_text, write_suite
from specrunner.app.funnel import scrub_environment_values
from specrunner.cli import main
from specrunner.errors import SuiteError
from specrunner.masking import FEW_STRINGS, MASK, Secrets, SecretTracker

CANARY = "sk-canary-7f3a9c"
CANARY_FORMS = (CANARY, CANARY.upper(), CANARY[::-1], "canary-7f3a9c", "7f3a9c")
AGENT_CANARY = "98765123"

# ---- the Secrets record ------------------------------------------------------------------


def test_mask_hides_a_derived_value_entirely() -> None:
    # A part of a value computed from a secret could give the rest away: no partial masks.
    secrets = Secrets(["tok-12345"])
    assert secrets.mask("Bearer tok-12345") == MASK
    assert secrets.mask("TOK-12345") == MASK
    assert secrets.mask(9) == MASK
    assert secrets.mask(["TOK"]) == MASK
    assert secrets.mask({"a": "x tok-12345"}) == MASK


def test_redact_text_respects_the_minimum_length() -> None:
    secrets = Secrets(["ab", "longer-secret"])
    assert secrets.redact_text("ab longer-secret") == "ab ***"
    assert secrets.redact_text("ab longer-secret", min_length=1) == "*** ***"


def test_redact_prefers_the_longest_secret() -> None:
    secrets = Secrets(["abcd", "abcdef"])
    assert secrets.redact_text("xabcdefx") == "x***x"


def test_redact_walks_json() -> None:
    secrets = Secrets(["s3cr3t-value"])
    data = {"a": ["s3cr3t-value", 1, None, {"b": "x s3cr3t-value"}], "n": 2}
    assert secrets.redact(data) == {"a": ["***", 1, None, {"b": "x ***"}], "n": 2}


# Secrets of a small alphabet, so that texts drawn from it hold them often; no "*", so that
# hiding one always changes the text.
SECRET_TEXT = st.text(alphabet='abcAB12-é/+= "', min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(SECRET_TEXT, max_size=2 * FEW_STRINGS),
    st.lists(SECRET_TEXT, max_size=3),
    st.text(alphabet='abcAB12-é/+= "xyz', max_size=60),
    st.integers(min_value=0, max_value=6),
)
def test_found_in_says_whether_redact_text_hides_anything(
    values: list[str], derived: list[str], text: str, min_length: int
) -> None:
    # A few strings are looked for one by one, more with the pattern: either way, the
    # same answer as hiding them.
    for secrets in (Secrets(values, derived=derived), _tracked(values, derived)):
        changed = secrets.redact_text(text, min_length=min_length) != text
        assert secrets.found_in(text, min_length=min_length) == changed


def _tracked(values: list[str], derived: list[str]) -> Secrets:
    """The same secrets found one at a time by a tracker (several parts, each its own
    pattern)."""
    tracker = SecretTracker()
    for value in values:
        tracker.add(value)
        tracker.secrets  # noqa: B018 - each secret made part of its own
    for value in derived:
        tracker.add_derived(value)
    return tracker.secrets


def test_found_in_looks_past_a_few_strings_with_the_pattern() -> None:
    many = Secrets([f"secret-{n:02d}" for n in range(2 * FEW_STRINGS)])
    assert many.found_in("x secret-15 y")
    assert not many.found_in("x secret-99 y")
    assert not Secrets().found_in("anything")


def test_empty_values_are_not_secrets() -> None:
    secrets = Secrets([""])
    assert len(secrets) == 0
    assert secrets.redact_text("anything") == "anything"


def test_crash_reports_scrub_environment_values() -> None:
    environ = {"CANARY_TOKEN": CANARY, "PATH": "/usr/local/bin:/usr/bin", "SHORT": "abc"}
    text = f"boom {CANARY} in /usr/local/bin:/usr/bin abc"
    assert scrub_environment_values(text, environ) == "boom *** in /usr/local/bin:/usr/bin abc"


# ---- through the compiler ----------------------------------------------------------------


SECRET_SUITE = """
    version: 1
    name: sec
    agent: "{{ env.AGENT_ID }}"
    vars:
      tok: "{{ env.CANARY_TOKEN }}"
      nested: {t: "{{ env.CANARY_TOKEN }}", public: visible-value}
      derived: "{{ env.CANARY_TOKEN | upper }}"
    rooms:
      lab:
        source: static
        url: "https://acme.daily.co/{{ env.CANARY_TOKEN }}"
        token: "{{ env.CANARY_TOKEN }}"
      cloud:
        source: pipecat_cloud
        agent_name: "bot-{{ vars.tok }}"
        api_key: "{{ env.CANARY_TOKEN }}"
        body: {t: "{{ vars.tok }}", u: "{{ vars.derived }}"}
    defaults:
      room: cloud
      publish_data_message:
        from_defaults: "{{ env.CANARY_TOKEN }}"
    scenarios:
      - id: 30
        name: direct
        tags: [smoke]
        publish_data_message:
          plain: "{{ env.CANARY_TOKEN }}"
          bearer: "Bearer {{ env.CANARY_TOKEN }}"
          upper: "{{ env.CANARY_TOKEN | upper }}"
          item: '{{ env["CANARY_TOKEN"] }}'
          got: "{{ env.get('CANARY_TOKEN', 'none') }}"
          public: "hello"
      - id: 31
        name: through-vars
        room: lab
        repeat: 2
        matrix: {locale: [en-US, es-ES]}
        publish_data_message:
          tok: "{{ vars.tok }}"
          wrapped: "x{{ vars.tok }}y"
          nested: "{{ vars.nested }}"
          nested_t: "{{ vars.nested.t | upper }}"
          derived: "{{ vars.derived }}"
          reversed: "{{ vars.tok | reverse }}"
          sliced: "{{ vars.tok[3:] }}"
          parts: "{{ vars.tok.split('-') }}"
          length: "{{ vars.tok | length }}"
          looped: "{% for c in vars.tok %}{{ c }}{% endfor %}"
          list: "{{ [vars.tok, 1] }}"
          locale: "{{ matrix.locale }}"
"""

ENVIRON = {"CANARY_TOKEN": CANARY, "AGENT_ID": AGENT_CANARY}


def assert_no_canary(text: str) -> None:
    for form in (*CANARY_FORMS, AGENT_CANARY):
        assert form not in text, f"secret form {form!r} is shown"


def test_payloads_are_sent_with_secrets_and_shown_masked() -> None:
    plan = compile_text(SECRET_SUITE, environ=ENVIRON)
    direct = plan.runs[0]
    assert direct.publish_data_message["plain"] == CANARY
    assert direct.publish_data_message["upper"] == CANARY.upper()
    assert direct.shown_payload == {
        "from_defaults": "***",
        "plain": "***",
        "bearer": "***",
        "upper": "***",
        "item": "***",
        "got": "***",
        "public": "hello",
    }
    shown = dict(plan.runs[1].shown_payload)
    assert shown["wrapped"] == "***"
    assert shown["nested"] == "***"
    assert shown["locale"] == "en-US"
    assert_no_canary(json.dumps([plan.runs[0].shown_payload, shown]))


def test_env_get_fallback_is_not_a_secret() -> None:
    plan = compile_text(
        """
        version: 1
        name: sec
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: 1
            publish_data_message: {r: "{{ env.get('REGION_X', 'eu-west-1') }}"}
    """,
        environ={},
    )
    assert plan.runs[0].shown_payload == {"r": "eu-west-1"}


def test_room_render_shows_secrets_masked() -> None:
    plan = compile_text(SECRET_SUITE, environ=ENVIRON)
    config = plan.rooms["cloud"].render(ENVIRON)
    assert config.values["api_key"] == CANARY
    assert_no_canary(json.dumps(config.shown))
    assert config.shown["body"] == {"t": "***", "u": "***"}


def test_room_render_error_does_not_show_the_secret() -> None:
    plan = compile_text(
        """
        version: 1
        name: sec
        rooms:
          lab:
            source: static
            url: u
            token: "{{ {'a': 1}[env.get('CANARY_TOKEN', 'a')] }}"
        scenarios:
          - id: 1
    """,
        environ={},
    )
    with pytest.raises(SuiteError) as caught:
        plan.rooms["lab"].render({"CANARY_TOKEN": CANARY})
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col) == (7, 12)
    assert_no_canary(str(diagnostic))
    assert MASK in diagnostic.message


@pytest.mark.parametrize(
    "expression",
    [
        "vars[env.CANARY_TOKEN]",
        "vars[vars.tok]",
        "vars[env.CANARY_TOKEN | upper]",
        "vars[vars.tok | upper]",
        "{'a': 1}[env.CANARY_TOKEN | upper]",
        "vars[env.CANARY_TOKEN[3:]]",
        "env[env.CANARY_TOKEN | upper]",
    ],
)
def test_template_errors_do_not_show_secrets(expression: str) -> None:
    text = f"""
        version: 1
        name: sec
        vars:
          tok: "{{{{ env.CANARY_TOKEN }}}}"
        rooms:
          lab: {{source: static, url: u}}
        scenarios:
          - id: 1
            publish_data_message: {{v: "{{{{ {expression} }}}}"}}
    """
    with pytest.raises(SuiteError) as caught:
        compile_text(text, environ=ENVIRON)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col) == (9, 31)
    assert_no_canary(str(diagnostic))


# ---- through the CLI ---------------------------------------------------------------------


@pytest.fixture
def canary_suite(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> Path:
    for name, value in ENVIRON.items():
        clean_environ.setenv(name, value)
    clean_environ.chdir(tmp_path)
    return write_suite(tmp_path, SECRET_SUITE, "sec.yaml")


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "sec.yaml", "--format", "json"],
        ["plan", "sec.yaml", "--format", "text"],
        ["plan", "sec.yaml", "--format", "json", "--scenario", "through-vars", "--shard", "1/1"],
        ["validate", "sec.yaml"],
    ],
)
def test_cli_output_never_shows_the_canary(canary_suite: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert_no_canary(result.output)
    if args[0] == "plan":
        assert MASK in result.output


def test_cli_json_masks_the_agent_and_every_secret_payload_field(canary_suite: Path) -> None:
    result = CliRunner().invoke(
        main, ["plan", "sec.yaml", "--format", "json"], catch_exceptions=False
    )
    data = json.loads(result.stdout)
    assert data["agent"] == MASK
    first = data["runs"][0]["publish_data_message"]
    assert first["bearer"] == MASK
    assert first["public"] == "hello"
    for run in data["runs"][1:]:
        message = run["publish_data_message"]
        for key in ("tok", "derived", "reversed", "sliced", "parts", "length", "looped"):
            assert message[key] == MASK, key


def test_cli_text_masks_the_agent(canary_suite: Path) -> None:
    result = CliRunner().invoke(main, ["plan", "sec.yaml"], catch_exceptions=False)
    assert "agent ***" in result.stdout
    assert "CANARY_TOKEN (set)" in result.stdout


@pytest.mark.parametrize("command", ["plan", "validate"])
def test_cli_error_messages_never_show_the_canary(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch, command: str
) -> None:
    clean_environ.setenv("CANARY_TOKEN", CANARY)
    clean_environ.chdir(tmp_path)
    write_suite(
        tmp_path,
        """
        version: 1
        name: sec
        vars:
          tok: "{{ env.CANARY_TOKEN }}"
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: 1
            publish_data_message:
              a: "{{ vars[env.CANARY_TOKEN] }}"
              b: "{{ vars[vars.tok] }}"
              c: "{{ vars[env.CANARY_TOKEN | upper] }}"
              d: "{{ vars.tok + 1 }}"
    """,
        "err.yaml",
    )
    result = CliRunner().invoke(main, [command, "err.yaml"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "err.yaml:10:" in result.output
    assert_no_canary(result.output)


SHORT_SECRET_SUITE = """
    version: 1
    name: short
    vars:
      nested: {pin: "{{ env.PIN }}"}
    rooms:
      lab: {source: static, url: u}
    scenarios:
      - id: 1
        publish_data_message:
          whole: "{{ vars.nested }}"
          direct: "{{ env.PIN }}"
"""


def test_a_var_mapping_holding_a_secret_is_masked_whole_in_shown_payload() -> None:
    plan = compile_text(SHORT_SECRET_SUITE, environ={"PIN": "4711"})
    assert plan.runs[0].publish_data_message["whole"] == {"pin": "4711"}
    assert plan.runs[0].shown_payload == {"whole": "***", "direct": "***"}


@pytest.mark.parametrize("output_format", ["json", "text"])
def test_a_short_secret_inside_a_var_mapping_is_not_shown(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch, output_format: str
) -> None:
    # Short values are still secrets "wherever they stand as a value of their own".
    clean_environ.setenv("PIN", "471")
    clean_environ.chdir(tmp_path)
    write_suite(tmp_path, SHORT_SECRET_SUITE, "short.yaml")
    result = CliRunner().invoke(
        main, ["plan", "short.yaml", "--format", output_format], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    if output_format == "json":
        message = json.loads(result.stdout)["runs"][0]["publish_data_message"]
        assert message == {"whole": "***", "direct": "***"}
    else:
        assert '"pin": "471"' not in result.stdout
        assert '"direct": "***"' in result.stdout


def test_a_secret_scenario_id_is_masked(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.setenv("SCENARIO_ID", "4242424")
    clean_environ.chdir(tmp_path)
    write_suite(
        tmp_path,
        """
        version: 1
        name: sec
        rooms:
          lab: {source: static, url: u}
        scenarios:
          - id: "{{ env.SCENARIO_ID }}"
            name: secret-scenario
    """,
        "s.yaml",
    )
    as_json = CliRunner().invoke(main, ["plan", "s.yaml", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["runs"][0]["scenario_id"] == MASK
    as_text = CliRunner().invoke(main, ["plan", "s.yaml"])
    assert "(scenario ***," in as_text.stdout
    for result in (as_json, as_text):
        assert "4242424" not in result.output
