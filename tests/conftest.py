"""Shared helpers: build suites from text, load them, compile them, run the CLI in-process.

The helpers are plain functions (import them with `from conftest import ...`) so that
hypothesis tests can call them without function-scoped fixtures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from specrunner.errors import SuiteError
from specrunner.models import Plan
from specrunner.suite.compile import CompileOptions, compile_plan
from specrunner.suite.load import Document, load_text
from specrunner.suite.validate import check_version, schema_diagnostics

REPO = Path(__file__).resolve().parents[1]

# A small valid suite: one static room, one scenario, no environment variables needed.
MINIMAL = """\
version: 1
name: mini
rooms:
  lab:
    source: static
    url: https://acme.daily.co/lab
scenarios:
  - id: 30
    name: hello
"""

# Environment variables that are never secrets and may stay set for a subprocess (the
# history's path among them: see `_history_outside_the_repository`).
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "SPECRUNNER_HISTORY")


@pytest.fixture(scope="session", autouse=True)
def _history_outside_the_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every run and merge of the tests records into one history in a temporary folder,
    never into the repository or the folder pytest was started in. The history's own
    tests choose their files (or unset this to see the default path used)."""
    path = tmp_path_factory.mktemp("history") / "history.sqlite"
    saved = os.environ.get("SPECRUNNER_HISTORY")
    os.environ["SPECRUNNER_HISTORY"] = str(path)
    yield
    if saved is None:
        os.environ.pop("SPECRUNNER_HISTORY", None)
    else:
        os.environ["SPECRUNNER_HISTORY"] = saved


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def write_suite(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    """Write `text` (dedented) to tmp_path/name and return the path."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")
    return path


def load(text: str, path: str = "suite.yaml") -> Document:
    """A Document from suite text, through the real loader (no schema check)."""
    return load_text(dedent(text), path)


def valid_doc(text: str, path: str = "suite.yaml") -> Document:
    """A Document that passed the version and schema checks (fails the test otherwise)."""
    doc = load(text, path)
    version = check_version(doc)
    assert version is None, str(version)
    problems = schema_diagnostics(doc)
    assert not problems, "\n".join(str(p) for p in problems)
    return doc


def dump(suite: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(suite), sort_keys=False, allow_unicode=True)


def compile_text(text: str, **options: Any) -> Plan:
    """Compile suite text with CompileOptions(**options); environ defaults to empty."""
    options.setdefault("environ", {})
    return compile_plan(valid_doc(text), CompileOptions(**options))


def compile_dict(suite: Mapping[str, Any], **options: Any) -> Plan:
    return compile_text(dump(suite), **options)


def suite_errors(text: str, **options: Any) -> list[str]:
    """The diagnostics (as `FILE:LINE:COL: message` lines) that compiling `text` raises."""
    with pytest.raises(SuiteError) as caught:
        compile_text(text, **options)
    return [str(d) for d in caught.value.diagnostics]


def load_errors(text: str) -> list[str]:
    """The diagnostics that loading `text` raises."""
    with pytest.raises(SuiteError) as caught:
        load(text)
    return [str(d) for d in caught.value.diagnostics]


def schema_errors(text: str) -> list[str]:
    doc = load(text)
    return [str(d) for d in schema_diagnostics(doc)]


def payloads(plan: Plan) -> list[Any]:
    return [run.publish_data_message for run in plan.runs]


def minimal_env() -> dict[str, str]:
    """An environment for subprocesses: only PATH-like variables, no secrets."""
    return {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}


def probe(
    code: str,
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Any:
    """Run `code` in a fresh Python process (`args` in its sys.argv, `minimal_env()`
    unless `env` is given), which must exit 0; the JSON on the last line it printed."""
    completed = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=minimal_env() if env is None else dict(env),
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.splitlines()[-1])


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Empty os.environ for the test (the CLI reads secrets from it); restored afterwards."""
    for key in list(os.environ):
        if key not in _KEEP_ENV:
            monkeypatch.delenv(key)
    yield monkeypatch
