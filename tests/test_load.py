"""The loader: YAML text to plain JSON-like data, with a position for every value and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MINIMAL, dedent, load, load_errors
from specrunner.errors import SuiteError
from specrunner.suite.load import load_suite, load_text

# ---- positions ---------------------------------------------------------------------------

POSITIONS = """\
version: 1
name: mini
rooms:
  lab:
    source: static
    url: https://acme.daily.co/lab
scenarios:
  - id: 30
    tags: [smoke, billing]
    publish_data_message: {locale: en-US}
"""


def test_values_are_located_at_their_line_and_column() -> None:
    doc = load_text(POSITIONS, "s.yaml")
    assert doc.values[("version",)] == (1, 10)
    assert doc.values[("rooms", "lab", "url")] == (6, 10)
    assert doc.values[("scenarios",)] == (8, 3)
    assert doc.values[("scenarios", 0)] == (8, 5)
    assert doc.values[("scenarios", 0, "id")] == (8, 9)
    assert doc.values[("scenarios", 0, "tags", 1)] == (9, 19)
    assert doc.values[("scenarios", 0, "publish_data_message", "locale")] == (10, 36)


def test_keys_are_located_at_the_key() -> None:
    doc = load_text(POSITIONS, "s.yaml")
    assert doc.keys[("version",)] == (1, 1)
    assert doc.keys[("rooms", "lab")] == (4, 3)
    assert doc.keys[("rooms", "lab", "url")] == (6, 5)
    assert doc.keys[("scenarios", 0, "publish_data_message", "locale")] == (10, 28)


def test_locate_falls_back_to_the_nearest_located_ancestor() -> None:
    doc = load_text(POSITIONS, "s.yaml")
    assert doc.locate(("scenarios", 0, "no-such-key", 3)) == (8, 5)
    assert doc.locate(()) == (1, 1)
    # A key path that was never a key: locate_key falls back to the value.
    assert doc.locate_key(("scenarios", 0)) == (8, 5)


def test_diagnostic_uses_the_path_as_given() -> None:
    doc = load_text(POSITIONS, "specs/s.yaml")
    assert str(doc.diagnostic(("rooms", "lab", "url"), "bad")) == "specs/s.yaml:6:10: bad"
    assert str(doc.diagnostic(("rooms", "lab", "url"), "bad", at_key=True)) == (
        "specs/s.yaml:6:5: bad"
    )


def test_data_is_plain_json_like() -> None:
    doc = load(MINIMAL)
    assert doc.data == {
        "version": 1,
        "name": "mini",
        "rooms": {"lab": {"source": "static", "url": "https://acme.daily.co/lab"}},
        "scenarios": [{"id": 30, "name": "hello"}],
    }


def test_crlf_line_endings_keep_positions() -> None:
    doc = load_text(POSITIONS.replace("\n", "\r\n"), "s.yaml")
    assert doc.values[("scenarios", 0, "tags", 1)] == (9, 19)


# ---- duplicate keys ----------------------------------------------------------------------


def test_duplicate_key_is_an_error_naming_the_first_line() -> None:
    errors = load_errors("""
        a: 1
        b:
          c: 1
          c: 2
    """)
    assert errors == ["suite.yaml:4:3: duplicate key 'c' (first defined at line 3)"]


def test_every_duplicate_is_reported() -> None:
    errors = load_errors("""
        a: 1
        a: 2
        list:
          - {x: 1, x: 2}
        a: 3
    """)
    assert errors == [
        "suite.yaml:2:1: duplicate key 'a' (first defined at line 1)",
        "suite.yaml:4:12: duplicate key 'x' (first defined at line 4)",
        "suite.yaml:5:1: duplicate key 'a' (first defined at line 1)",
    ]


def test_same_key_in_different_mappings_is_fine() -> None:
    assert load("a: {x: 1}\nb: {x: 2}\n").data == {"a": {"x": 1}, "b": {"x": 2}}


# ---- anchors, aliases, merge keys --------------------------------------------------------


def test_anchor_and_alias_copy_the_value() -> None:
    data = load("""
        base: &b {source: static, url: u}
        copy: *b
        list: [&one 1, *one]
    """).data
    assert data["copy"] == {"source": "static", "url": "u"}
    assert data["list"] == [1, 1]


def test_merge_key_keys_written_next_to_it_override() -> None:
    data = load("""
        bot: &bot
          agent_name: staging
          max_sessions: 10
        prod:
          agent_name: prod
          <<: *bot
    """).data
    assert data["prod"] == {"agent_name": "prod", "max_sessions": 10}
    assert data["bot"] == {"agent_name": "staging", "max_sessions": 10}


def test_merge_key_before_own_keys_also_overrides() -> None:
    data = load("""
        bot: &bot {agent_name: staging, max_sessions: 10}
        prod:
          <<: *bot
          agent_name: prod
    """).data
    assert data["prod"] == {"max_sessions": 10, "agent_name": "prod"}


def test_merge_list_earlier_mappings_win() -> None:
    data = load("""
        a: &a {p: 1}
        b: &b {p: 2, r: 2}
        c:
          <<: [*a, *b]
          s: 3
    """).data
    assert data["c"] == {"p": 1, "r": 2, "s": 3}


def test_merged_keys_are_not_duplicates_of_own_keys() -> None:
    # Overriding a merged key is what merge keys are for, not a duplicate.
    data = load("a: &a {x: 1}\nb: {<<: *a, x: 2}\n").data
    assert data["b"] == {"x": 2}


def test_merged_values_are_located_at_their_source() -> None:
    doc = load("""
        bot: &bot
          max_sessions: 10
        prod:
          <<: *bot
          agent_name: prod
    """)
    assert doc.values[("prod", "max_sessions")] == (2, 17)
    assert doc.values[("prod", "agent_name")] == (5, 15)


def test_merge_of_a_scalar_is_an_error() -> None:
    assert load_errors("a:\n  <<: 1\n") == [
        "suite.yaml:2:7: a merge key (<<) takes a mapping or a list of mappings"
    ]


def test_undefined_alias_is_a_located_syntax_error() -> None:
    errors = load_errors("a: 1\nb: *nope\n")
    assert len(errors) == 1
    assert errors[0].startswith("suite.yaml:2:4: YAML syntax error: ")
    assert "alias" in errors[0]


def test_alias_bomb_is_stopped_with_a_clear_error() -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):  # 10**9 values once expanded
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    errors = load_errors("\n".join(lines) + "\n")
    assert len(errors) == 1
    assert "expands to more than 500,000 values" in errors[0]


# ---- scalars -----------------------------------------------------------------------------


def test_timestamps_stay_strings() -> None:
    data = load("""
        date: 2025-03-01
        when: 2025-03-01T10:00:00Z
        spaced: 2001-12-14 21:59:43.10 -5
        2025-01-01: new year
    """).data
    assert data == {
        "date": "2025-03-01",
        "when": "2025-03-01T10:00:00Z",
        "spaced": "2001-12-14 21:59:43.10 -5",
        "2025-01-01": "new year",
    }


@pytest.mark.parametrize("text", [".nan", ".NaN", ".inf", "-.inf", "+.Inf", ".INF"])
def test_non_finite_numbers_are_rejected(text: str) -> None:
    errors = load_errors(f"version: 1\nvalue: {text}\n")
    assert errors == [f"suite.yaml:2:8: {text!r} is not a finite number"]


def test_ordinary_scalars() -> None:
    data = load("""
        i: 42
        f: 0.66
        neg: -3
        t: true
        n: null
        tilde: ~
        s: plain text
        q: "1"
        hex: 0x10
        under: 1_000
    """).data
    assert data == {
        "i": 42,
        "f": 0.66,
        "neg": -3,
        "t": True,
        "n": None,
        "tilde": None,
        "s": "plain text",
        "q": "1",
        "hex": 16,
        "under": 1000,
    }
    assert type(data["q"]) is str


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system [ls]",
        "!!python/name:os.system ''",
        "!!binary aGk=",
        "!!set {a, b}",
        "!!omap [{a: 1}]",
        "!custom x",
    ],
)
def test_object_building_tags_are_errors(tag: str) -> None:
    errors = load_errors(f"a: {tag}\n")
    assert len(errors) == 1
    assert errors[0].startswith("suite.yaml:1:4: unsupported YAML tag ")


def test_explicit_standard_scalar_tags_are_fine() -> None:
    assert load("a: !!str 1\nb: !!int '3'\n").data == {"a": "1", "b": 3}


# ---- keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "reads_as"),
    [
        ("yes", "true"),
        ("no", "false"),
        ("on", "true"),
        ("off", "false"),
        ("true", "true"),
        ("False", "false"),
        ("null", "null"),
        ("~", "null"),
        ("OFF", "false"),
    ],
)
def test_keys_that_read_as_booleans_or_null_ask_for_quotes(key: str, reads_as: str) -> None:
    errors = load_errors(f"outer:\n  {key}: 1\n")
    assert errors == [
        f"suite.yaml:2:3: the key {key!r} reads as {reads_as}; quote it "
        f'("{key}") to use it as a name'
    ]


def test_quoted_yes_is_a_name() -> None:
    assert load("'yes': 1\n\"on\": 2\n").data == {"yes": 1, "on": 2}


def test_number_keys_become_the_names_written() -> None:
    assert load("1: a\n1.5: b\n0x10: c\n").data == {"1": "a", "1.5": "b", "0x10": "c"}


@pytest.mark.parametrize("text", ["? [a, b]\n: x\n", "? {a: 1}\n: x\n"])
def test_collection_keys_are_errors(text: str) -> None:
    assert load_errors(text) == [
        "suite.yaml:1:3: a mapping key must be a plain string, not a list or mapping"
    ]


# ---- syntax and documents ---------------------------------------------------------------


def test_syntax_error_is_one_located_line() -> None:
    errors = load_errors("version: 1\nrooms: [a, b\nscenarios: []\n")
    assert len(errors) == 1
    assert errors[0].startswith("suite.yaml:3:")
    assert "YAML syntax error" in errors[0]
    assert "line 2" in errors[0]


def test_tab_indentation_is_a_syntax_error() -> None:
    errors = load_errors("a:\n\tb: 1\n")
    assert len(errors) == 1
    assert errors[0].startswith("suite.yaml:2:1: YAML syntax error: ")


def test_two_documents_are_an_error() -> None:
    errors = load_errors("a: 1\n---\nb: 2\n")
    assert len(errors) == 1
    assert errors[0].startswith("suite.yaml:2:1: YAML syntax error: ")


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "   \n"])
def test_empty_text_is_an_error(text: str) -> None:
    errors = load_errors(text)
    assert errors == [
        "suite.yaml:1:1: the file is empty; expected a suite mapping with "
        "version, name, rooms and scenarios"
    ]


# ---- files -------------------------------------------------------------------------------


def test_load_suite_reads_a_file_and_keeps_the_path_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "s.yaml").write_text(MINIMAL, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    doc = load_suite("specs/s.yaml")
    assert doc.path == "specs/s.yaml"
    assert doc.data["name"] == "mini"


def test_utf8_bom_is_skipped_and_positions_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    doc = load_suite(path)
    assert doc.data["version"] == 1
    assert doc.keys[("version",)] == (1, 1)
    assert doc.values[("name",)] == (2, 7)


def test_non_utf8_file_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"version: 1\nname: x\ngreeting: caf\xe9\n")
    with pytest.raises(SuiteError) as caught:
        load_suite(path)
    assert [str(d) for d in caught.value.diagnostics] == [f"{path}:3:1: not valid UTF-8 text"]


def test_utf8_text_is_read_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "utf8.yaml"
    path.write_bytes("greeting: ¡hola, señor! 😀\n".encode())
    assert load_suite(path).data == {"greeting": "¡hola, señor! 😀"}


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    with pytest.raises(SuiteError) as caught:
        load_suite(path)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.file, diagnostic.line, diagnostic.col) == (str(path), 1, 1)
    assert "empty" in diagnostic.message


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(SuiteError) as caught:
        load_suite(path)
    assert [str(d) for d in caught.value.diagnostics] == [f"{path}:1:1: no such file"]


def test_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SuiteError) as caught:
        load_suite(tmp_path)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.file == str(tmp_path)
    assert "directory" in diagnostic.message


def test_dedent_helper_keeps_text_the_loader_reads() -> None:
    # The helpers above rely on this: indented test text loads as written.
    assert load(
        dedent("""
        a:
          b: 1
    """)
    ).data == {"a": {"b": 1}}


# ---- limits: nesting, recursive aliases, expansion, numbers ------------------------------


def _load_error(text: str) -> str:
    """The one diagnostic that loading `text` (not dedented) raises."""
    with pytest.raises(SuiteError) as caught:
        load_text(text, "suite.yaml")
    (diagnostic,) = caught.value.diagnostics
    return str(diagnostic)


def test_a_recursive_alias_is_a_located_error() -> None:
    assert _load_error("vars: &a {x: *a}\n") == (
        "suite.yaml:1:14: the alias *a is inside the value it names (a recursive alias)"
    )


def test_a_recursive_merge_key_is_a_located_error() -> None:
    assert _load_error("a: &a\n  <<: *a\n").startswith("suite.yaml:2:7: the alias *a is inside")


def test_nesting_64_levels_loads() -> None:
    data = load_text("x: " + "[" * 63 + "1" + "]" * 63 + "\n").data
    for _ in range(63):
        data = data[0] if isinstance(data, list) else data["x"]
    assert data == [1]


@pytest.mark.parametrize("depth", [65, 600])
def test_flow_nesting_deeper_than_64_is_located_where_the_limit_is_passed(depth: int) -> None:
    error = _load_error("x: " + "[" * depth + "]" * depth + "\n")
    assert error == "suite.yaml:1:67: lists and mappings nested more than 64 levels deep"


@pytest.mark.parametrize("depth", [5_000, 1_000_000])
def test_very_deep_flow_nesting_is_the_same_error(depth: int) -> None:
    # libyaml reads ahead and meets its own limit (1,000) first: the same message, there.
    error = _load_error("x: " + "[" * depth + "]" * depth + "\n")
    assert error.startswith("suite.yaml:1:")
    assert error.endswith(": lists and mappings nested more than 64 levels deep")


def test_block_nesting_deeper_than_64_is_an_error() -> None:
    text = "".join("  " * i + "k:\n" for i in range(70))
    error = _load_error(text)
    assert error == "suite.yaml:65:129: lists and mappings nested more than 64 levels deep"


def test_an_alias_that_nests_too_deep_is_located_at_the_alias() -> None:
    text = "a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n"
    error = _load_error(text)
    assert (
        error == "suite.yaml:2:34: the alias *a nests lists and mappings more than 64 levels deep"
    )


def test_chained_aliases_cannot_nest_past_the_limit() -> None:
    lines = ["a0: &a0 " + "[" * 10 + "x" + "]" * 10]
    lines += [f"a{i}: &a{i} " + "[" * 10 + f"*a{i - 1}" + "]" * 10 for i in range(1, 20)]
    error = _load_error("\n".join(lines) + "\n")
    assert "the alias *a5 nests lists and mappings more than 64 levels deep" in error


def test_aliases_of_a_long_string_are_bounded_by_expanded_text() -> None:
    text = "s: &s " + "a" * 1_000_000 + "\nl:\n" + "  - *s\n" * 3_000
    error = _load_error(text)
    assert error.startswith(
        "suite.yaml:11:5: the document expands to more than 10,000,000 characters at the alias *s"
    )


def test_merge_keys_count_as_expansion() -> None:
    text = (
        "b: &b {s: " + "a" * 1_000_000 + "}\n" + "".join(f"m{i}: {{<<: *b}}\n" for i in range(20))
    )
    assert "more than 10,000,000 characters at the alias *b" in _load_error(text)


def test_many_values_without_aliases_are_bounded_too() -> None:
    error = _load_error("x: [" + ",".join(["1"] * 600_000) + "]\n")
    assert error.startswith("suite.yaml:1:")
    assert error.endswith(
        ": the document holds more than 500,000 values (the limit is passed here)"
    )


def test_a_few_aliases_of_a_long_string_load() -> None:
    data = load_text("s: &s " + "a" * 1_000_000 + "\nl: [*s, *s, *s]\n").data
    assert len(data["l"]) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("!!float abc", "'abc' is not a valid !!float"),
        ("!!int abc", "'abc' is not a valid !!int"),
        ("!!bool abc", "'abc' is not a valid !!bool"),
    ],
)
def test_a_tagged_scalar_that_does_not_convert_is_located(text: str, message: str) -> None:
    assert load_errors(f"version: 1\nvalue: {text}\n") == [f"suite.yaml:2:8: {message}"]


def test_a_bad_tagged_key_is_reported_once() -> None:
    assert load_errors("!!float abc: 1\n") == ["suite.yaml:1:1: 'abc' is not a valid !!float"]


def test_a_5000_digit_integer_is_out_of_range() -> None:
    error = _load_error("x: " + "9" * 5_000 + "\n")
    assert error.startswith("suite.yaml:1:4: the integer 999")
    assert error.endswith("... is out of range; a suite's integers lie between -2**63 and 2**63")
    assert len(error) < 200


@pytest.mark.parametrize("value", [2**63, -(2**63), 2**63 - 1, 0x7FFF])
def test_integers_up_to_2_63_load(value: int) -> None:
    assert load_text(f"x: {value}\n").data == {"x": value}


@pytest.mark.parametrize(
    "text", [str(2**63 + 1), str(-(2**63) - 1), "0x" + "f" * 17, "0" + "7" * 22]
)
def test_integers_beyond_2_63_are_located_errors(text: str) -> None:
    assert load_errors(f"x: {text}\n") == [
        f"suite.yaml:1:4: the integer {text} is out of range; "
        "a suite's integers lie between -2**63 and 2**63"
    ]


def test_a_huge_float_is_not_finite() -> None:
    assert load_errors("x: 1.0e+99999\n") == ["suite.yaml:1:4: '1.0e+99999' is not a finite number"]
