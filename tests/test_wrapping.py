"""Text fitted to a width: broken between JSON items and fields, never cut, nothing lost."""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import termios
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specrunner.wrapping import (
    DEFAULT_WIDTH,
    MIN_WIDTH,
    field_pieces,
    hanging,
    json_line,
    json_pieces,
    output_width,
    pack,
)


def test_json_is_split_after_the_commas_between_items_only() -> None:
    text = json_line({"a": "x, y", "b": [1, 2], "c": 'say "hi, there"'})
    pieces = json_pieces(text)
    assert "".join(pieces) == text
    assert pieces == [
        '{"a": "x, y", ',
        '"b": [1, ',
        "2], ",
        '"c": "say \\"hi, there\\""}',
    ]


def test_an_escaped_backslash_ends_before_the_closing_quote() -> None:
    text = json_line({"path": "C:\\", "next": 1})
    assert json_pieces(text) == ['{"path": "C:\\\\", ', '"next": 1}']


def test_pack_breaks_between_pieces_and_drops_the_space_at_each_break() -> None:
    pieces = json_pieces(json_line({"suite": "checkout", "run_key": "b42e", "attempt": 1}))
    assert pack(pieces, 30) == ['{"suite": "checkout",', '"run_key": "b42e",', '"attempt": 1}']
    assert pack(pieces, 40) == ['{"suite": "checkout", "run_key": "b42e",', '"attempt": 1}']
    assert pack(pieces, None) == ['{"suite": "checkout", "run_key": "b42e", "attempt": 1}']


def test_a_piece_longer_than_a_line_is_broken_at_its_spaces_then_cut() -> None:
    assert pack(["alpha beta gamma"], 11) == ["alpha beta", "gamma"]
    assert pack(["abcdefghijklmnop"], 6) == ["abcdef", "ghijkl", "mnop"]


def test_hanging_keeps_the_first_prefix_and_aligns_the_rest() -> None:
    lines = hanging(field_pieces(["one", "two", "three"]), 34, "  key  ", "       ")
    assert lines == ["  key  one  two  three"]
    lines = hanging(field_pieces(["one" * 4, "two" * 4, "three" * 4]), 34, "  key  ", "       ")
    assert lines == ["  key  oneoneoneone  twotwotwotwo", "       threethreethreethree"]


def test_the_column_is_never_narrower_than_its_minimum() -> None:
    # A deep indent on a narrow width still leaves 24 columns to the text.
    lines = hanging(["x" * 30], 30, " " * 20, " " * 20)
    assert [len(line) - 20 for line in lines] == [24, 6]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values, width=st.integers(min_value=1, max_value=120))
def test_wrapped_json_keeps_every_character_and_fits(value: Any, width: int) -> None:
    text = json_line(value)
    lines = pack(json_pieces(text), width)
    assert all(len(line) <= width for line in lines)
    assert re.sub(r"\s", "", "".join(lines)) == re.sub(r"\s", "", text)


@settings(max_examples=200, deadline=None)
@given(value=json_values, width=st.integers(min_value=24, max_value=120))
def test_breaks_between_items_join_back_into_the_same_json(value: Any, width: int) -> None:
    text = json_line(value)
    pieces = json_pieces(text)
    if any(len(piece.rstrip()) > width for piece in pieces):
        return  # a piece broken inside: covered by the test above
    assert json.loads(" ".join(pack(pieces, width))) == value


class _Stream:
    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def isatty(self) -> bool:
        return self._fd is not None and os.isatty(self._fd)

    def fileno(self) -> int:
        if self._fd is None:
            raise OSError("no file descriptor")
        return self._fd


def test_output_width_reads_columns_then_the_terminal_then_falls_back() -> None:
    assert output_width(_Stream(None), {}) == DEFAULT_WIDTH
    assert output_width(_Stream(None), {"COLUMNS": "132"}) == 132
    assert output_width(_Stream(None), {"COLUMNS": "12"}) == MIN_WIDTH
    assert output_width(_Stream(None), {"COLUMNS": "wide"}) == DEFAULT_WIDTH


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_output_width_is_the_terminals_width() -> None:
    leader, follower = os.openpty()
    try:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 123, 0, 0))
        assert output_width(_Stream(follower), {}) == 123
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 20, 0, 0))
        assert output_width(_Stream(follower), {}) == MIN_WIDTH
        assert output_width(_Stream(follower), {"COLUMNS": "90"}) == 90
    finally:
        os.close(leader)
        os.close(follower)
