"""Hypothesis strategies for hostile input to `specrunner validate` and `plan`.

Five families, each a strategy of `Case`s (a suite file and the commands to run on it):

- `mutated_examples`: the suites of specs/ and the ```yaml blocks of docs/, with keys
  deleted, renamed or retyped, values swapped, strings injected, and lines duplicated,
  dropped or damaged in the text;
- `hostile_yaml`: deep nesting, alias bombs, recursive aliases, huge integers, odd tags,
  non-UTF-8 bytes, tabs, BOMs, duplicate keys, directives, several documents;
- `hostile_templates`: loops, exponential macros, format widths, `lipsum`, huge powers
  and products, sandbox escapes, broken syntax, placed anywhere a template is read;
- `hostile_options`: `--set`, `--shard`, `--env`, `--tag`, `--scenario`, `--max-runs`;
- `canary_suites`: templates that read `env.SECRET` and transform it, or fail on it.

The fixed lists (`HOSTILE_TEMPLATES`, `SUBPROCESS_CASES`, ...) are what every run must try;
the strategies draw from them and combine them. bench/fuzz.py imports `FAMILIES`, so the
test suite and the benchmark never drift apart.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from .hostile import (
    DIGITS,
    EXPONENTIAL_MACRO,
    FAILURES,
    HEAD,
    HOSTILE_OPTIONS,
    HOSTILE_TEMPLATES,
    HOSTILE_YAML,
    NESTED_RANGES,
    SECRET_READS,
    SIZES,
    TRANSFORMS,
)
from .mutate import damage_text, mutate
from .outcome import SUITE_FILE, Case

REPO = Path(__file__).resolve().parents[2]

VALIDATE = ("validate", SUITE_FILE)
PLAN_TEXT = ("plan", SUITE_FILE)
PLAN_JSON = ("plan", SUITE_FILE, "--format", "json")
EVERY_COMMAND = (VALIDATE, PLAN_TEXT, PLAN_JSON)

# ---- the examples we ship ------------------------------------------------------------------

_BLOCK = re.compile(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def example_suites() -> list[tuple[str, str]]:
    """(where, text) of every suite in specs/ and every ```yaml block of docs/ that is a
    mapping (suites and suite excerpts; emulator configurations are left out)."""
    found = [(str(p.relative_to(REPO)), p.read_text()) for p in sorted(REPO.glob("specs/*.yaml"))]
    for doc in sorted(REPO.glob("docs/*.md")):
        text = doc.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            block = match.group(1)
            if block.startswith("# emulator configuration"):
                continue
            try:
                data = yaml.safe_load(block)
            except yaml.YAMLError:
                continue
            if isinstance(data, dict):
                line = text[: match.start()].count("\n") + 1
                found.append((f"{doc.relative_to(REPO)}:{line}", block))
    return found


EXAMPLES = example_suites()

# A small valid suite with every place a template is read: vars, an environment, agent,
# a scenario id, payloads, and both kinds of room that render templates.
BASE: dict[str, Any] = {
    "version": 1,
    "name": "fuzz",
    "agent": 412,
    "vars": {"greeting": "hi", "s": "{{ env.SECRET }}", "caller": {"name": "Alex"}},
    "environments": {
        "staging": {"room": "lab", "vars": {"region": "eu"}},
        "production": {"room": "cloud", "agent": 413},
    },
    "default_environment": "staging",
    "rooms": {
        "lab": {
            "source": "static",
            "rooms": [{"url": "https://acme.daily.co/lab-1", "token": "{{ env.get('T', 'x') }}"}],
        },
        "cloud": {
            "source": "pipecat_cloud",
            "agent_name": "bot",
            "api_key": "{{ env.SECRET }}",
            "body": {"customer": "{{ vars.caller.name }}"},
        },
    },
    "defaults": {"publish_data_message": {"suite": "{{ suite.name }}", "key": "{{ run.key }}"}},
    "scenarios": [
        {
            "id": 30,
            "name": "order",
            "tags": ["smoke"],
            "matrix": {"locale": ["en-US", "es-ES"]},
            "publish_data_message": {"locale": "{{ matrix.locale }}"},
        },
        {"id": 31, "name": "refund", "tags": ["billing"], "repeat": 2},
    ],
}

# Where a template may be put in BASE (a path of keys and indices), with the names each
# place may use (docs/suite-format.md#names-available); a name not available is an error.
SLOTS: tuple[tuple[str | int, ...], ...] = (
    ("vars", "t"),
    ("environments", "staging", "vars", "t"),
    ("environments", "production", "agent"),
    ("agent",),
    ("scenarios", 0, "id"),
    ("scenarios", 1, "publish_data_message"),
    ("scenarios", 0, "publish_data_message", "t"),
    ("defaults", "publish_data_message", "t"),
    ("rooms", "lab", "rooms", 0, "token"),
    ("rooms", "lab", "rooms", 0, "url"),
    ("rooms", "cloud", "body", "t"),
    ("rooms", "cloud", "agent_name"),
)


def dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000).encode()


def place(data: Any, path: Sequence[str | int], value: Any) -> None:
    """Set `value` at `path` in `data`, making mappings on the way."""
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    node[path[-1]] = value


# ---- 1. mutations of the examples ---------------------------------------------------------


def _environment_options(draw: st.DrawFn, data: Any) -> tuple[str, ...]:
    environments = data.get("environments") if isinstance(data, dict) else None
    if not isinstance(environments, dict):
        environments = {}
    names = [n for n in environments if isinstance(n, str)]
    choice = draw(st.sampled_from([None, "nope", *names]))
    return () if choice is None else ("--env", choice)


@st.composite
def mutated_examples(draw: st.DrawFn) -> Case:
    where, text = draw(st.sampled_from(EXAMPLES))
    data = yaml.safe_load(text)
    done = []
    for _ in range(draw(st.integers(1, 3))):
        data, what = mutate(draw, data)
        done.append(what)
    raw = dump(data)
    if draw(st.integers(0, 3)) == 0:
        raw, what = damage_text(draw, raw)
        done.append(what)
    env = _environment_options(draw, data)
    commands = (VALIDATE, (*PLAN_TEXT, *env), (*PLAN_JSON, *env))
    return Case("mutations", f"{where}: {'; '.join(done)}", raw, commands)


# ---- 2. hostile YAML -----------------------------------------------------------------------


def _encode(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")


def yaml_case(name: str, size: int = 1000) -> Case:
    return Case("yaml", f"{name} (size {size})", _encode(HOSTILE_YAML[name](size)), EVERY_COMMAND)


@st.composite
def hostile_yaml(draw: st.DrawFn) -> Case:
    return yaml_case(draw(st.sampled_from(sorted(HOSTILE_YAML))), draw(st.sampled_from(SIZES)))


# ---- 3. hostile templates ------------------------------------------------------------------

_WRAPPERS = ("{}", "a{}b", "{}{}", "{} {{{{ env.SECRET|upper }}}}")


def template_case(template: str, slot: tuple[str | int, ...] = SLOTS[6]) -> Case:
    data = copy.deepcopy(BASE)
    place(data, slot, template)
    where = ".".join(map(str, slot))
    return Case("templates", f"{template!r} at {where}", dump(data), EVERY_COMMAND)


@st.composite
def hostile_templates(draw: st.DrawFn) -> Case:
    data = copy.deepcopy(BASE)
    shown = []
    for _ in range(draw(st.integers(1, 2))):
        template = draw(st.sampled_from(HOSTILE_TEMPLATES))
        wrapper = draw(st.sampled_from(_WRAPPERS))
        text = wrapper.format(template, template) if "{}{}" in wrapper else wrapper.format(template)
        slot = draw(st.sampled_from(SLOTS))
        place(data, slot, text)
        shown.append(f"{text!r} at {'.'.join(map(str, slot))}")
    env = draw(st.sampled_from([(), ("--env", "production")]))
    # validate and one form of plan: a template that runs into the sandbox's bounds takes
    # its time in each command, and both forms of plan are drawn over the examples
    plan = draw(st.sampled_from([PLAN_TEXT, PLAN_JSON]))
    return Case("templates", "; ".join(shown), dump(data), (VALIDATE, (*plan, *env)))


# ---- 4. hostile command-line options -------------------------------------------------------

_OPTION_SUITES: tuple[tuple[str, bytes], ...] = (
    ("the fuzz suite", dump(BASE)),
    *((where, text.encode()) for where, text in EXAMPLES if where.startswith("specs/")),
)


def options_case(options: Sequence[str], suite: int = 0) -> Case:
    where, raw = _OPTION_SUITES[suite]
    return Case(
        "options",
        f"{where} with {_shown(options)}",
        raw,
        ((*PLAN_TEXT, *options), (*PLAN_JSON, *options), (*VALIDATE, *_max_runs(options))),
    )


def _max_runs(options: Sequence[str]) -> tuple[str, ...]:
    """The --max-runs options among `options` (the only ones `validate` takes)."""
    found: list[str] = []
    for i, option in enumerate(options[:-1]):
        if option == "--max-runs":
            found += [option, options[i + 1]]
    return tuple(found)


def _shown(options: Sequence[str]) -> str:
    return " ".join(o if len(o) <= 40 else f"{o[:20]!r}...({len(o)} chars)" for o in options)


@st.composite
def hostile_options(draw: st.DrawFn) -> Case:
    chosen = draw(st.lists(st.sampled_from(HOSTILE_OPTIONS), min_size=1, max_size=3))
    options = tuple(part for option in chosen for part in option)
    return options_case(options, draw(st.integers(0, len(_OPTION_SUITES) - 1)))


# ---- 5. the canary secret ------------------------------------------------------------------

# Places where a secret's value is checked as something else, so that an error may
# quote it: an id, an agent, a room source's URL.
SECRET_SLOTS: tuple[tuple[str | int, ...], ...] = (
    *SLOTS,
    ("scenarios", 1, "id"),
    ("rooms", "cloud", "api_url"),
    ("rooms", "lab", "rooms", 0, "url"),
)


def canary_case(expression: str, slot: tuple[str | int, ...] = SLOTS[6]) -> Case:
    data = copy.deepcopy(BASE)
    text = "{{ " + expression + " }}"
    place(data, slot, text)
    return Case("canary", f"{text!r} at {'.'.join(map(str, slot))}", dump(data), EVERY_COMMAND)


def canary_expression(read: str, transform: str, failure: str) -> str:
    """`failure` applied to `transform` applied to `read` (each `@` is the value)."""
    value = transform.replace("@", f"({read})")
    return failure.replace("@", f"({value})")


_CANARY_WRAPPERS = ("{{{{ {} }}}}", "a{{{{ {} }}}}b", "{{% if {} %}}x{{% endif %}}")


@st.composite
def canary_suites(draw: st.DrawFn) -> Case:
    data = copy.deepcopy(BASE)
    shown = []
    for _ in range(draw(st.integers(1, 3))):
        expression = canary_expression(
            draw(st.sampled_from(SECRET_READS)),
            draw(st.sampled_from(TRANSFORMS)),
            draw(st.sampled_from(FAILURES)),
        )
        text = draw(st.sampled_from(_CANARY_WRAPPERS)).format(expression)
        slot = draw(st.sampled_from(SECRET_SLOTS))
        place(data, slot, text)
        shown.append(f"{text!r} at {'.'.join(map(str, slot))}")
    options: tuple[str, ...] = draw(
        st.sampled_from([(), ("--env", "production"), ("--set", "s.x=1"), ("--set", "s=[1]")])
    )
    commands = (VALIDATE, (*PLAN_TEXT, *options), (*PLAN_JSON, *options))
    return Case(
        "canary",
        "; ".join(shown) + (f" with {_shown(options)}" if options else ""),
        dump(data),
        commands,
    )


FAMILIES: dict[str, st.SearchStrategy[Case]] = {
    "mutations": mutated_examples(),
    "yaml": hostile_yaml(),
    "templates": hostile_templates(),
    "options": hostile_options(),
    "canary": canary_suites(),
}


# ---- the few cases run as a new process ----------------------------------------------------


def _only(case: Case, command: tuple[str, ...]) -> Case:
    """`case` with its first command's options, run as `command` only."""
    options = case.commands[0][len(PLAN_TEXT) :] if case.family == "options" else ()
    return dataclasses.replace(case, commands=((*command, *options),))


SUBPROCESS_CASES: tuple[Case, ...] = (
    _only(yaml_case("alias bomb", 900), VALIDATE),
    _only(yaml_case("deep flow list", 100_000), PLAN_TEXT),
    _only(yaml_case("recursive merge key"), PLAN_JSON),
    Case(
        "yaml",
        "non-UTF-8 bytes after a BOM, tab-indented",
        b"\xef\xbb\xbf" + HEAD.replace("  lab", "\tlab").encode() + b"description: \xff\n",
        (VALIDATE,),
    ),
    _only(template_case("{{ [['x'*999999]*999]*999 }}"), PLAN_TEXT),
    _only(template_case(NESTED_RANGES), PLAN_JSON),
    _only(template_case("{{ lipsum(999999) }}"), VALIDATE),
    _only(template_case("{{ 9**9**9 }}"), PLAN_TEXT),
    _only(template_case(EXPONENTIAL_MACRO), PLAN_TEXT),
    _only(canary_case("{env.SECRET|upper: 1}['zz']"), PLAN_TEXT),
    _only(options_case(("--shard", f"1/{DIGITS}")), PLAN_TEXT),
    _only(options_case(("--set", "x=" + "[" * 60_000 + "]" * 60_000)), PLAN_JSON),
)
"""A fixed set, one command each, run as a new process (a command-line argument of a new
process is at most 128 KiB, so the largest option values are tried in-process only)."""
