"""Command-line selection values: `--set key=value` and `--shard I/N`, and run keys."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from specrunner.errors import UsageError

_SET_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")
_SHARD = re.compile(r"^\s*([0-9]+)\s*/\s*([0-9]+)\s*$")  # ASCII digits only
# Limits on command-line values (docs/suite-format.md, "Limits").
MAX_SHARD_DIGITS = 9
MAX_SET_LENGTH = 1_000_000
MAX_SET_DEPTH = 64
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def parse_set(text: str) -> tuple[tuple[str, ...], Any]:
    """`key=value` or `a.b=value`; the value is JSON when it parses as JSON, else text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    shown = _shorten(text)
    if not sep:
        raise UsageError(f"--set {shown!r}: expected KEY=VALUE, for example --set locale=en-US")
    if not _SET_KEY.match(key):
        raise UsageError(
            f"--set {shown!r}: {_shorten(key)!r} is not a valid variable name (letters, "
            "digits, '_' and '-', with '.' between nested keys)"
        )
    if len(raw) > MAX_SET_LENGTH:
        raise UsageError(f"--set {shown!r}: the value is longer than {MAX_SET_LENGTH:,} characters")
    if _json_depth(raw) > MAX_SET_DEPTH:
        raise UsageError(
            f"--set {shown!r}: the value nests lists and objects more than "
            f"{MAX_SET_DEPTH} levels deep"
        )
    try:
        value: Any = json.loads(raw, parse_constant=_not_json)
    except ValueError:
        value = raw
    if not _finite(value):  # 1e999 parses as infinity, which JSON cannot carry
        value = raw
    return tuple(key.split(".")), value


def _json_depth(raw: str) -> int:
    """How deep the value's brackets nest, strings left out (before parsing it as JSON)."""
    if raw.lstrip()[:1] not in ("[", "{"):
        return 0
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", raw)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else f"{text[: width - 3]}..."


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def apply_overrides(
    variables: dict[str, Any], overrides: Sequence[tuple[tuple[str, ...], Any]]
) -> dict[str, Any]:
    result = dict(variables)
    for path, value in overrides:
        target = result
        for part in path[:-1]:
            current = target.get(part)
            target[part] = dict(current) if isinstance(current, Mapping) else {}
            target = target[part]
        target[path[-1]] = value
    return result


def parse_shard(text: str) -> tuple[int, int]:
    match = _SHARD.match(text)
    shown = _shorten(text)
    if match is None:
        raise UsageError(f"--shard {shown!r}: expected I/N, for example --shard 1/4")
    if max(len(match.group(1)), len(match.group(2))) > MAX_SHARD_DIGITS:
        raise UsageError(f"--shard {shown!r}: I and N take at most {MAX_SHARD_DIGITS} digits")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard {shown!r}: I must be between 1 and N (N at least 1)")
    return index, count


def run_key_prefix(suite: str, scenario: str, cell: Mapping[str, Any]) -> str:
    cell_json = json.dumps(cell, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return json.dumps([suite, scenario], ensure_ascii=False)[:-1] + "," + cell_json + ","


def run_key(prefix: str, repeat: int) -> str:
    """The stable key of a run: a hash of suite, scenario name, cell and repeat only."""
    return hashlib.sha256(f"{prefix}{repeat}]".encode()).hexdigest()[:16]


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    if shard is None:
        return True
    index, count = shard
    return int(key, 16) % count == index - 1


def shard_keys(
    keys: Sequence[str], shard: tuple[int, int] | None, *, sequential: bool
) -> list[str]:
    """Of a cell's run keys (repeat 1 first), those in `shard`: each run by its own key,
    but every run of a sequential cell by its first run's, so that one shard sends them
    all and decides the cell."""
    if sequential:
        return list(keys) if keys and in_shard(keys[0], shard) else []
    return [key for key in keys if in_shard(key, shard)]
