"""--set and --shard values, overrides of vars, run keys and shards."""

from __future__ import annotations

import math
from typing import Any

import pytest

from specrunner.errors import UsageError
from specrunner.suite.selection import (
    apply_overrides,
    in_shard,
    parse_set,
    parse_shard,
    run_key,
    run_key_prefix,
)

# ---- --set -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("retries=3", ("retries",), 3),
        ("ratio=0.5", ("ratio",), 0.5),
        ("dry_run=false", ("dry_run",), False),
        ("nothing=null", ("nothing",), None),
        ('cart=["calzone"]', ("cart",), ["calzone"]),
        ('caller={"name": "Sam"}', ("caller",), {"name": "Sam"}),
        ('code="007"', ("code",), "007"),
        ("code=007", ("code",), "007"),
        ("store=pizzeria-7", ("store",), "pizzeria-7"),
        ("greeting=hello world", ("greeting",), "hello world"),
        ("empty=", ("empty",), ""),
        ("url=https://x.example/a=b", ("url",), "https://x.example/a=b"),
        ("caller.name=Sam", ("caller", "name"), "Sam"),
        ("a.b.c=1", ("a", "b", "c"), 1),
        ("dash-ed_key=1", ("dash-ed_key",), 1),
        (" spaced =1", ("spaced",), 1),
    ],
)
def test_parse_set(text: str, path: tuple[str, ...], value: Any) -> None:
    assert parse_set(text) == (path, value)
    assert type(parse_set(text)[1]) is type(value)


@pytest.mark.parametrize("text", ["x=NaN", "x=1e999"])
def test_parse_set_values_that_are_not_json_numbers_stay_text(text: str) -> None:
    # NaN and Infinity are not JSON; Python's json module accepts them by default.
    _, value = parse_set(text)
    assert not (isinstance(value, float) and not math.isfinite(value)), value


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("locale", "expected KEY=VALUE"),
        ("=x", "not a valid variable name"),
        ("1x=3", "not a valid variable name"),
        ("a..b=1", "not a valid variable name"),
        ("a.=1", "not a valid variable name"),
        ("a b=1", "not a valid variable name"),
    ],
)
def test_parse_set_errors(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_set(text)
    assert str(caught.value).startswith(f"--set {text!r}: ")
    assert fragment in str(caught.value)


def test_apply_overrides_top_level_and_nested() -> None:
    variables = {"store": "s-1", "caller": {"name": "Alex", "tier": "gold"}}
    result = apply_overrides(variables, [(("store",), "s-7"), (("caller", "name"), "Sam")])
    assert result == {"store": "s-7", "caller": {"name": "Sam", "tier": "gold"}}


def test_apply_overrides_does_not_modify_its_input() -> None:
    variables = {"caller": {"name": "Alex", "deep": {"x": 1}}}
    apply_overrides(variables, [(("caller", "deep", "x"), 2)])
    assert variables == {"caller": {"name": "Alex", "deep": {"x": 1}}}


def test_apply_overrides_creates_missing_mappings_and_replaces_scalars() -> None:
    result = apply_overrides({"a": "text"}, [(("a", "b"), 1), (("new", "x", "y"), True)])
    assert result == {"a": {"b": 1}, "new": {"x": {"y": True}}}


def test_apply_overrides_in_order_last_wins() -> None:
    result = apply_overrides({}, [(("a",), 1), (("a",), 2), (("b", "c"), 1), (("b",), 5)])
    assert result == {"a": 2, "b": 5}


# ---- --shard -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shard"),
    [
        ("1/1", (1, 1)),
        ("2/4", (2, 4)),
        ("4/4", (4, 4)),
        (" 3 / 8 ", (3, 8)),
    ],
)
def test_parse_shard(text: str, shard: tuple[int, int]) -> None:
    assert parse_shard(text) == shard


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0/2", "between 1 and N"),
        ("3/2", "between 1 and N"),
        ("1/0", "between 1 and N"),
        ("0/0", "between 1 and N"),
        ("x", "expected I/N"),
        ("1/", "expected I/N"),
        ("/2", "expected I/N"),
        ("1/2/3", "expected I/N"),
        ("-1/2", "expected I/N"),
        ("1.5/2", "expected I/N"),
        ("", "expected I/N"),
        ("\u0661/\u0662", "expected I/N"),  # Arabic-Indic digits: ASCII only
    ],
)
def test_parse_shard_errors(text: str, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_shard(text)
    assert str(caught.value).startswith(f"--shard {text!r}: ")
    assert fragment in str(caught.value)


def test_every_key_is_in_exactly_one_shard() -> None:
    keys = [
        run_key(run_key_prefix("s", f"scenario-{i}", {}), r) for i in range(50) for r in range(1, 4)
    ]
    for count in range(1, 9):
        for key in keys:
            assert sum(in_shard(key, (i, count)) for i in range(1, count + 1)) == 1
    assert all(in_shard(key, None) for key in keys)


# ---- run keys ----------------------------------------------------------------------------


def test_run_key_is_16_hex_characters() -> None:
    key = run_key(run_key_prefix("suite", "scenario", {"locale": "en"}), 1)
    assert len(key) == 16
    int(key, 16)


def test_run_key_depends_on_suite_scenario_cell_and_repeat() -> None:
    base = run_key(run_key_prefix("suite", "scn", {"a": 1}), 1)
    assert run_key(run_key_prefix("suite", "scn", {"a": 1}), 1) == base
    others = [
        run_key(run_key_prefix("suite2", "scn", {"a": 1}), 1),
        run_key(run_key_prefix("suite", "scn2", {"a": 1}), 1),
        run_key(run_key_prefix("suite", "scn", {"a": 2}), 1),
        run_key(run_key_prefix("suite", "scn", {"a": "1"}), 1),
        run_key(run_key_prefix("suite", "scn", {"a": 1, "b": 1}), 1),
        run_key(run_key_prefix("suite", "scn", {"a": 1}), 2),
        run_key(run_key_prefix("suite", "scn", {}), 1),
    ]
    assert len({base, *others}) == len(others) + 1


def test_run_key_ignores_cell_key_order() -> None:
    assert run_key(run_key_prefix("s", "n", {"a": 1, "b": 2}), 1) == run_key(
        run_key_prefix("s", "n", {"b": 2, "a": 1}), 1
    )


def test_run_key_parts_cannot_be_confused() -> None:
    # A name containing the separators must not collide with a different split.
    first = run_key(run_key_prefix("a", "b,c", {}), 1)
    second = run_key(run_key_prefix("a,b", "c", {}), 1)
    assert first != second


# ---- limits on --set and --shard ---------------------------------------------------------


@pytest.mark.parametrize("shard", ["1/" + "9" * 5_000, "1/1000000000", "0000000001/2"])
def test_shard_numbers_take_at_most_nine_digits(shard: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_shard(shard)
    message = str(caught.value)
    assert message.endswith(": I and N take at most 9 digits")
    assert len(message) < 150


def test_a_nine_digit_shard_is_fine() -> None:
    assert parse_shard("999999999/999999999") == (999_999_999, 999_999_999)


@pytest.mark.parametrize("depth", [65, 5_000, 400_000])
def test_set_values_nested_deeper_than_64_are_refused(depth: int) -> None:
    with pytest.raises(UsageError) as caught:
        parse_set("x=" + "[" * depth + "]" * depth)
    message = str(caught.value)
    assert message.endswith(": the value nests lists and objects more than 64 levels deep")
    assert len(message) < 200


def test_set_nesting_counts_brackets_outside_strings_only() -> None:
    assert parse_set('x=["[[[[", {"a": "]]]\\"[["}]') == (("x",), ["[[[[", {"a": ']]]"[['}])
    assert parse_set("x=" + "[" * 64 + "]" * 64)[0] == ("x",)


def test_deep_text_that_is_not_json_is_refused_too() -> None:
    with pytest.raises(UsageError, match="more than 64 levels deep"):
        parse_set("x=" + "{" * 100)


def test_set_values_longer_than_a_million_characters_are_refused() -> None:
    with pytest.raises(UsageError) as caught:
        parse_set("x=" + "a" * 1_000_001)
    assert str(caught.value).endswith(": the value is longer than 1,000,000 characters")
    assert parse_set("x=" + "a" * 1_000_000)[1] == "a" * 1_000_000


def test_a_huge_integer_in_set_stays_text() -> None:
    # Python refuses to convert more than 4,300 digits: the value is then plain text.
    digits = "9" * 5_000
    assert parse_set(f"x={digits}") == (("x",), digits)
