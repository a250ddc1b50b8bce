"""Reading again the line a diagnostic points at: line breaks as YAML counts them, and
every file whose line may not or cannot be shown."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from specrunner import source_lines
from specrunner.errors import SuiteError
from specrunner.source_lines import SourceLines, is_env_file, split_lines
from specrunner.suite.load import load_text


def line_of(path: Path, number: int) -> str | None:
    return SourceLines().line(str(path), number)


def test_a_line_by_its_number(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\nname: x\n", encoding="utf-8")
    assert line_of(path, 1) == "version: 1"
    assert line_of(path, 2) == "name: x"
    assert line_of(path, 3) == ""  # the end of the file, after the last line break
    assert line_of(path, 4) is None
    assert line_of(path, 0) is None
    assert line_of(path, -1) is None


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n", "\x85", "\u2028", "\u2029"])
def test_line_breaks_are_yaml_s_so_the_numbers_agree_with_the_parser(
    tmp_path: Path, newline: str
) -> None:
    text = newline.join(["version: 1", "name: x", "bad: [1"]) + newline
    path = tmp_path / "s.yaml"
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(SuiteError) as caught:
        load_text(text, str(path))
    problem = caught.value.diagnostics[0]
    assert problem.line == 4, problem  # the parser's line: the end of the file
    assert line_of(path, 3) == "bad: [1"
    assert line_of(path, 2) == "name: x"


def test_a_byte_order_mark_is_dropped_like_the_loader_drops_it(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: x\n")
    assert line_of(path, 1) == "name: x"


def test_bytes_that_are_not_utf8_show_as_escapes(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"version: 1\nurl: caf\xe9\n")
    assert line_of(path, 2) == "url: caf\\xe9"


def test_a_file_that_is_gone_a_folder_or_empty_gives_no_line(tmp_path: Path) -> None:
    assert line_of(tmp_path / "gone.yaml", 1) is None
    assert line_of(tmp_path, 1) is None
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"")
    assert line_of(empty, 1) is None
    assert SourceLines().line("", 1) is None
    assert SourceLines().line("nul\x00.yaml", 1) is None


def test_a_file_over_the_size_cap_gives_no_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: 1\n" * 10, encoding="utf-8")
    monkeypatch.setattr(source_lines, "MAX_BYTES", 49)
    assert line_of(path, 1) is None
    monkeypatch.setattr(source_lines, "MAX_BYTES", 50)
    assert line_of(path, 1) == "a: 1"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_not_read_and_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "suite.yaml"
    os.mkfifo(fifo)
    found: list[str | None] = []
    reader = threading.Thread(target=lambda: found.append(line_of(fifo, 1)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading a named pipe blocked"
    assert found == [None]


@pytest.mark.parametrize(
    "name", [".env", ".env.local", ".ENV", "prod.env", ".envrc", "deploy/.env.production"]
)
def test_env_files_are_never_shown(tmp_path: Path, name: str) -> None:
    assert is_env_file(name)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("CEKURA_API_KEY=sk-live-1234567890\n", encoding="utf-8")
    assert line_of(path, 1) is None


@pytest.mark.parametrize("name", ["suite.yaml", "environments.yaml", "env.yaml", "envs.yml"])
def test_suites_are_not_env_files(name: str) -> None:
    assert not is_env_file(name)


def test_each_file_is_read_once_for_one_message(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("one\ntwo\n", encoding="utf-8")
    lines = SourceLines()
    assert lines.line(str(path), 1) == "one"
    path.write_text("changed\n", encoding="utf-8")
    assert lines.line(str(path), 2) == "two"  # the same reading for every diagnostic


def test_split_lines_keeps_an_empty_last_line_for_the_end_of_the_file() -> None:
    assert split_lines("a\r\nb\n") == ["a", "b", ""]
    assert split_lines("a") == ["a"]
    assert split_lines("a\x0bb\x0cc") == ["a\x0bb\x0cc"]  # not line breaks in YAML
