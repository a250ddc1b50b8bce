"""The CI recipes (examples/ci/, .pre-commit-hooks.yaml, docs/ci.md) parse and call the real CLI.

Every shell command that starts `specrunner` is taken from the recipes' `run:` steps and
`script:` lists (and from the code blocks of docs/ci.md), its CI expressions replaced by
plausible values and its globs expanded, then parsed by the CLI's own click parser without
running anything.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from conftest import REPO
from specrunner.cli import main

CI = REPO / "examples" / "ci"
HOOKS = REPO / ".pre-commit-hooks.yaml"
DOC = REPO / "docs" / "ci.md"
CI_FILES = sorted(p for p in CI.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml"))
GITHUB = sorted((CI / "github").glob("*.yml"))

# CI expressions and the values they stand for in the check.
SUBSTITUTIONS = {
    r"\$\{\{\s*matrix\.env\s*\}\}": "staging",
    r"\$\{\{\s*matrix\.shard\s*\}\}": "1",
    r"\$\{?CI_NODE_INDEX\}?": "1",
    r"\$\{?CI_NODE_TOTAL\}?": "3",
    r"\$\{?SPECRUNNER_ENV\}?": "production",
}
# Globs that match files only at CI time.
CI_GLOBS = {"shard-*.json": ["shard-1.json", "shard-2.json"]}

_OPERATORS = {";", "&&", "||", "|", "&", "(", ")"}
_REDIRECTS = {">", ">>", "<", "2>", "2>>", "&>"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Fenced code blocks, also those indented inside list items.
_FENCE = re.compile(r"^[ \t]*```(\w*)[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.DOTALL | re.MULTILINE)


# ---- extraction ------------------------------------------------------------------------------


def shell_lines(script: str) -> list[str]:
    """The logical lines of a shell script: backslash continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", script)
    lines = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def scripts(data: Any) -> Iterator[str]:
    """Every shell script in a parsed CI file: `run:` strings, `script:` lists, hook entries."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "run" and isinstance(value, str):
                yield value
            elif key in ("script", "before_script", "after_script"):
                items = value if isinstance(value, list) else [value]
                yield from (item for item in items if isinstance(item, str))
            elif key == "entry" and isinstance(value, str):
                # pre-commit appends the matching file names (pass_filenames).
                yield f"{value} specs/smoke.yaml"
            else:
                yield from scripts(value)
    elif isinstance(data, list):
        for item in data:
            yield from scripts(item)


def substitute(line: str) -> str:
    for pattern, value in SUBSTITUTIONS.items():
        line = re.sub(pattern, value, line)
    assert "${{" not in line, f"no value to substitute in: {line}"
    return line


def expand(word: str) -> list[str]:
    if word in CI_GLOBS:
        return CI_GLOBS[word]
    if any(c in word for c in "*?["):
        found = sorted(p.relative_to(REPO).as_posix() for p in REPO.glob(word))
        assert found, f"{word} matches nothing in the repository"
        return found
    return [word]


def specrunner_invocations(line: str) -> list[list[str]]:
    """The argument lists (after `specrunner`) of the specrunner commands of one shell line."""
    lexer = shlex.shlex(substitute(line), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    skip_next = False
    for token in lexer:
        if skip_next:
            skip_next = False
        elif token in _OPERATORS:
            segments.append([])
        elif token in _REDIRECTS:
            skip_next = True
        else:
            segments[-1].append(token)
    found = []
    for words in segments:
        while words and _ASSIGNMENT.match(words[0]):
            words = words[1:]  # VAR=value before the command
        if words and Path(words[0]).name == "specrunner":
            found.append([arg for word in words[1:] for arg in expand(word)])
    return found


def commands_in(text: str) -> list[list[str]]:
    return [args for line in shell_lines(text) for args in specrunner_invocations(line)]


def file_commands(path: Path) -> list[list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [args for script in scripts(data) for args in commands_in(script)]


def doc_commands() -> list[tuple[str, list[str]]]:
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        where = f"docs/ci.md:{text[: match.start()].count(chr(10)) + 1}"
        language, body = match.group(1), textwrap.dedent(match.group(2))
        if language == "yaml":
            found += [
                (where, args) for s in scripts(yaml.safe_load(body)) for args in commands_in(s)
            ]
        else:
            found += [(where, args) for args in commands_in(body)]
    return found


# ---- checking against the CLI ----------------------------------------------------------------


def check_invocation(args: list[str]) -> None:
    """Parse `specrunner ARGS` with the CLI's click parser; raise click.UsageError if invalid."""
    if not args:
        raise click.UsageError("no command")
    ctx = main.make_context("specrunner", list(args), resilient_parsing=False)
    with ctx:
        sub = main.get_command(ctx, args[0])
        if sub is None:
            raise click.UsageError(f"no such command {args[0]!r}")
        sub.make_context(args[0], list(args[1:]), parent=ctx)


def is_valid(args: list[str]) -> bool:
    try:
        check_invocation(args)
    except click.UsageError:  # BadParameter, NoSuchOption and MissingParameter included
        return False
    return True


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--no-such-flag"],
        ["run", "specs/matrix.yaml", "--shard", "one-of-three"],
        ["merge", "shard-1.json", "shard-2.json"],  # -o is required
        ["validate"],
        ["no-such-command"],
        [],
    ],
)
def test_checker_rejects_wrong_commands(args: list[str]) -> None:
    assert not is_valid(args)


def test_checker_accepts_right_commands() -> None:
    assert is_valid(["run", "specs/matrix.yaml", "--shard", "1/3", "-o", "a.json"])
    assert is_valid(["validate", "specs/smoke.yaml"])


def test_extraction_handles_continuations_operators_and_globs() -> None:
    script = (
        "pip install specrunner\n"
        "GITHUB_STEP_SUMMARY= specrunner merge shard-*.json \\\n"
        "  -o merged.json || [ $? -eq 1 ]\n"
        "specrunner validate specs/*.yaml > out.txt\n"
    )
    assert commands_in(script) == [
        ["merge", "shard-1.json", "shard-2.json", "-o", "merged.json"],
        ["validate", *(f"specs/{p.name}" for p in sorted((REPO / "specs").glob("*.yaml")))],
    ]
    assert not all(is_valid(a) for a in commands_in("specrunner run --no-such-flag x.yaml"))


# ---- the recipes -----------------------------------------------------------------------------


def test_there_are_recipes() -> None:
    names = {str(p.relative_to(CI)) for p in CI_FILES}
    assert {
        "github/validate.yml",
        "github/run.yml",
        "github/compare.yml",
        "gitlab/.gitlab-ci.yml",
        "gitlab/compare.yml",
    } <= names


@pytest.mark.parametrize("path", [*CI_FILES, HOOKS], ids=lambda p: str(p.relative_to(REPO)))
def test_recipe_parses(path: Path) -> None:
    assert yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", GITHUB, ids=lambda p: p.name)
def test_github_workflow_shape(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    on = data.get("on", data.get(True))  # YAML 1.1 reads the key `on` as true
    assert on, f"{path.name}: no `on:` triggers"
    assert isinstance(data.get("jobs"), dict) and data["jobs"]
    for name, job in data["jobs"].items():
        assert "runs-on" in job, f"{path.name}: job {name} has no runs-on"
        assert isinstance(job.get("steps"), list) and job["steps"], f"{path.name}: {name}"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{path.name}: {name}: {step}"


def test_gitlab_pipeline_shape() -> None:
    data = yaml.safe_load((CI / "gitlab" / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    stages = data["stages"]
    jobs = {k: v for k, v in data.items() if isinstance(v, dict) and "script" in v}
    assert {"validate", "run", "merge"} <= set(jobs)
    assert all(job["stage"] in stages for job in jobs.values())
    assert jobs["run"]["parallel"] == 3
    assert jobs["merge"]["artifacts"]["reports"]["junit"] == "junit.xml"
    assert "report.html" in jobs["merge"]["artifacts"]["paths"]


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: str(p.relative_to(CI)))
def test_recipe_commands_are_valid(path: Path) -> None:
    commands = file_commands(path)
    assert commands, f"{path.name} runs no specrunner command"
    for args in commands:
        try:
            check_invocation(args)
        except click.UsageError as error:
            pytest.fail(f"{path.name}: specrunner {shlex.join(args)}: {error}")


def test_recipes_use_every_command_the_brief_names() -> None:
    used = {args[0] for path in CI_FILES for args in file_commands(path)}
    assert {"validate", "run", "merge", "compare"} <= used


# ---- comparing with the default branch's last report


def outputs(args: list[str]) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg in ("-o", "--output")]


def test_github_keeps_main_s_last_passing_report_and_posts_the_comparison() -> None:
    data = yaml.safe_load((CI / "github" / "compare.yml").read_text(encoding="utf-8"))
    (job,) = data["jobs"].values()
    assert job["permissions"]["pull-requests"] == "write"
    steps = {step.get("name", step.get("uses", step.get("run"))): step for step in job["steps"]}
    restore = next(s for s in steps.values() if s.get("uses") == "actions/cache/restore@v4")
    save = next(s for s in steps.values() if s.get("uses") == "actions/cache/save@v4")
    assert save["with"]["path"] == restore["with"]["path"] == "baseline.json"
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"])
    # Saved only from main, and only when the run's verdict passed.
    assert "github.event_name == 'push'" in save["if"] and "steps.run.outcome" in save["if"]
    (run,) = [c for s in job["steps"] if "run" in s for c in commands_in(s["run"]) if c[0] == "run"]
    (compare,) = [
        c for s in job["steps"] if "run" in s for c in commands_in(s["run"]) if c[0] == "compare"
    ]
    assert compare[1] == restore["with"]["path"]
    assert compare[2] in outputs(run)
    post = next(s for s in job["steps"] if "gh pr comment" in s.get("run", ""))
    words = shlex.split(post["run"])
    assert words[words.index("--body-file") + 1] in outputs(compare)
    assert {"--edit-last", "--create-if-none"} <= set(words)
    assert post["env"]["GH_TOKEN"] == "${{ github.token }}"


def test_gitlab_downloads_the_baseline_from_the_job_that_writes_it() -> None:
    text = (CI / "gitlab" / "compare.yml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    jobs = {k: v for k, v in data.items() if isinstance(v, dict) and "script" in v}
    writer = re.search(r"/jobs/artifacts/\$CI_DEFAULT_BRANCH/download\?job=(\w+)", text)
    assert writer is not None and writer.group(1) in jobs
    run = jobs[writer.group(1)]
    (run_args,) = [a for s in run["script"] for a in commands_in(s) if a[0] == "run"]
    assert "report.json" in outputs(run_args) and "report.json" in run["artifacts"]["paths"]
    (compare,) = [a for s in jobs["compare"]["script"] for a in commands_in(s)]
    assert compare[:3] == ["compare", "baseline/report.json", "report.json"]
    assert "body@comparison.md" in text and "comparison.md" in outputs(compare)
    assert jobs["compare"]["needs"] == [{"job": writer.group(1), "artifacts": True}]


def test_doc_commands_are_valid() -> None:
    commands = doc_commands()
    assert len(commands) >= 5
    for where, args in commands:
        try:
            check_invocation(args)
        except click.UsageError as error:
            pytest.fail(f"{where}: specrunner {shlex.join(args)}: {error}")


# ---- the pre-commit hook ---------------------------------------------------------------------


def test_pre_commit_hook() -> None:
    (hook,) = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert hook["id"] == "specrunner-validate"
    assert shlex.split(hook["entry"]) == ["specrunner", "validate"]
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    files = re.compile(hook["files"])
    assert files.search("specs/smoke.yaml")
    assert files.search("specs/matrix.yml")
    assert not files.search("docs/ci.md")
    assert not files.search("specrunner/starter/smoke.yaml")
    assert is_valid(["validate", "specs/smoke.yaml"])


def test_pre_commit_config_in_docs_matches_the_hook() -> None:
    (hook,) = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    configs = [
        yaml.safe_load(textwrap.dedent(body))
        for language, body in _FENCE.findall(DOC.read_text(encoding="utf-8"))
        if language == "yaml" and "repos:" in body
    ]
    local = [h for c in configs for r in c["repos"] if r["repo"] == "local" for h in r["hooks"]]
    assert local, "docs/ci.md shows no `repo: local` pre-commit configuration"
    assert local[0]["id"] == hook["id"]
    assert local[0]["entry"] == hook["entry"]
    assert local[0]["files"] == hook["files"]
