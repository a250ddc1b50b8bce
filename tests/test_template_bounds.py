"""Hostile templates are refused while they render: in work, in size, and in nesting.

Each "bomb" here used to hang `validate` and `plan` or exhaust the memory. Now each is a
normal located error (exit 2 from the CLI), refused in well under 5 seconds and with far
less than 1 GiB of memory; templates of a realistic size still render.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import compile_text, dump, minimal_env, suite_errors, write_suite
from specrunner.masking import SecretTracker
from specrunner.suite.bounds import (
    MAX_RENDERED_SIZE,
    MAX_STEPS,
    MAX_TEMPLATE_LENGTH,
    Budget,
    rendered_size,
)
from specrunner.suite.sandbox import EnvProxy
from specrunner.suite.template import PAYLOAD_SCOPE, TemplateEngine, TemplateFailure

FAST = 5.0  # seconds: the most any bomb may take to be refused (they take under 0.6 s here)
STEPS = f"the template does more than {MAX_STEPS:,} steps of work"
TOO_LARGE = f"would be too large (over {MAX_RENDERED_SIZE:,} characters)"


class StoppedClock:
    """A clock that never moves: only the step budget can stop a render (determinism)."""

    def __call__(self) -> float:
        return 0.0


def engine_render(source: str, *, clock: Any = None) -> Any:
    tracker = SecretTracker()
    engine = TemplateEngine(tracker, clock=clock or StoppedClock())
    problems: list[TemplateFailure] = []
    node = engine.compile(source, ("p",), PAYLOAD_SCOPE, problems)
    if problems:
        raise problems[0]
    env = EnvProxy({"SECRET": "canary-XYZ123"}, lenient=False, tracker=tracker)
    context = engine.context(
        env=env,
        vars={"items": list(range(50)), "caller": {"name": "Alex"}},
        suite={"name": "s", "version": 1},
        environment=None,
        scenario={"id": 1, "name": "s", "tags": []},
        matrix={},
        run={"repeat": 1, "index": 0, "key": "k"},
    )
    return engine.render(node, context)[0]


def refused(source: str) -> str:
    """The message refusing `source`, checked to come quickly."""
    start = time.monotonic()
    with pytest.raises(TemplateFailure) as caught:
        engine_render(source)
    took = time.monotonic() - start
    assert took < FAST, f"refused only after {took:.1f} s"
    return caught.value.message


# ---- work ------------------------------------------------------------------------------------

WORK_BOMBS = {
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
    "{% endfor %}",
    "filtered loop": "{% for i in range(100000) %}{% for j in range(100000) if false %}"
    "{% endfor %}{% endfor %}",
    "exponential macro": "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}"
    "{% endmacro %}{{ f(40) }}",
    "recursive loop": "{% for x in [1, 1] recursive %}{{ loop([1, 1]) if loop.depth < 40 }}"
    "{% endfor %}",
    "membership in a loop": "{% set big = range(100000)|list %}{% for i in range(100000) %}"
    "{% if -1 in big %}{% endif %}{% endfor %}",
    "comparing nested lists": "{% set a = range(100000)|batch(1000)|list %}"
    "{% set b = range(100000)|batch(1000)|list %}{% for i in range(50000) %}{{ a == b }}"
    "{% endfor %}",
    "sorting in a loop": "{% for i in range(1000) %}{{ range(100000)|list|sort|length }}"
    "{% endfor %}",
    "mapping in a loop": "{% for i in range(100) %}{{ range(100000)|map('string')|join|length }}"
    "{% endfor %}",
    "scanning a string": "{% set s = 'x' * 999999 %}{% for i in range(100000) %}"
    "{{ s.count('y') }}{% endfor %}",
    "list methods": "{% set l = range(100000)|list %}{% for i in range(1000) %}{{ l.index(9) }}"
    "{% endfor %}",
    "slow filters": "{% for i in range(1000) %}{{ ('ab ' * 300000)|title|length }}{% endfor %}",
    "captured output": "{% set x %}{% for i in range(1000) %}{{ 'x' * 999999 }}{% endfor %}"
    "{% endset %}{{ x|length }}",
    "long literal text": "{% for i in range(100000) %}" + "lorem ipsum " * 100 + "{% endfor %}",
}


@pytest.mark.parametrize("name", sorted(WORK_BOMBS))
def test_work_bombs_are_refused_quickly(name: str) -> None:
    message = refused(WORK_BOMBS[name])
    assert message.startswith("template not allowed: "), message
    assert STEPS in message or TOO_LARGE in message, message


def test_the_step_budget_is_counted_the_same_every_time() -> None:
    source = WORK_BOMBS["nested loops"]
    assert (
        refused(source)
        == refused(source)
        == f"template not allowed: {STEPS} (loop "
        + ("iterations, calls, and the characters and items they go through)")
    )


class FastClock:
    """Each reading half a second later: a render's deadline passes at its 4th reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


def test_a_render_that_takes_too_long_is_stopped_whatever_its_steps() -> None:
    with pytest.raises(TemplateFailure) as caught:
        engine_render("{% for i in range(5000) %}{{ i }}{% endfor %}", clock=FastClock())
    assert caught.value.message == (
        "template not allowed: the template takes more than 2 seconds to render"
    )


def test_budget_counts_steps() -> None:
    budget = Budget(10, clock=StoppedClock())
    budget.charge(10)
    budget.charge_size(15)  # under one step's worth of items: free
    with pytest.raises(Exception, match="more than 10 steps"):
        budget.charge(1)


# ---- size ----------------------------------------------------------------------------------

SIZE_BOMBS = {
    "nested repetition": "{{ [['x' * 999999] * 999] * 999 }}",
    "nested repetition as text": "x{{ [['x' * 999999] * 999] * 999 }}",
    "concatenation": "{{ 'x' * 999999 ~ 'x' * 999999 }}",
    "addition": "{{ ('x' * 999999) + ('x' * 999999) }}",
    "list addition": "{{ (['x' * 99999] * 9) + (['x' * 99999] * 9) }}",
    "replace filter": "{{ ('x' * 10000)|replace('', 'y' * 1000) }}",
    "str.replace": "{{ ('x' * 10000).replace('x', 'y' * 10000) }}",
    "join filter": "{{ range(100000)|join('x' * 1000) }}",
    "str.join": "{{ ('x' * 1000).join(range(100000)|map('string')) }}",
    "tojson of a shared structure": "{% macro f(x, n) %}{% if n %}{{ f([x, x], n-1) }}"
    "{% else %}{{ x|tojson|length }}{% endif %}{% endmacro %}{{ f(1, 40) }}",
    "string of a shared structure": "{% macro f(x, n) %}{% if n %}{{ f([x, x], n-1) }}"
    "{% else %}{{ x|string|length }}{% endif %}{% endmacro %}{{ f(1, 40) }}",
    "pprint of a shared structure": "{% macro f(x, n) %}{% if n %}{{ f([x, x], n-1) }}"
    "{% else %}{{ x|pprint|length }}{% endif %}{% endmacro %}{{ f(1, 40) }}",
    "printing a shared structure": "{% macro f(x, n) %}{% if n %}{{ f([x, x], n-1) }}"
    "{% else %}{{ x }}{% endif %}{% endmacro %}{{ f(1, 40) }}",
    "namespace doubling": "{% set ns = namespace(x=[1]) %}{% for i in range(40) %}"
    "{% set ns.x = [ns.x, ns.x] %}{% endfor %}{{ ns.x|length }}",
    "namespace growth": "{% set ns = namespace(x='x' * 1000) %}{% for i in range(100000) %}"
    "{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x|length }}",
    "lipsum paragraphs": "{{ lipsum(100000) }}",
    "lipsum words": "{{ lipsum(1, min=1, max=10**6) }}",
    "format widths": "{{ '{:>999999}{:>999999}'.format('a', 'b') }}",
    "percent widths": "{{ '%999999s%999999s' % ('a', 'b') }}",
    "many fields": "{{ ('{0}' * 1000).format('x' * 1000) }}",
    "width from an argument": "{{ '{:{}}'.format('x', 10**9) }}",
    "star width": "{{ '%*s' % (10**9, 'x') }}",
    "format filter width": "{{ '%99999999999s'|format('x') }}",
    "format precision": "{{ '%.999999999f'|format(1.0) }}",
    "tojson indent": "{{ [[[1]]]|tojson(indent=99999999) }}",
    "format filter": "{{ ('%s' * 1000)|format(*(['x' * 1000] * 999)) }}",
    "expandtabs": "{{ ('\\t' * 100000).expandtabs(100) }}",
    "indent": "{{ ('\\n' * 100000)|indent(100) }}",
    "wordwrap": "{{ ('a ' * 100000)|wordwrap(1, wrapstring='x' * 1000) }}",
    "batch fill": "{{ [1]|batch(10**7, 'x')|list }}",
    "translate": "{{ ('a' * 100000).translate({97: 'b' * 1000}) }}",
    "fromkeys": "{{ {}.fromkeys(range(100000), 'x' * 1000) }}",
    "streamed output": "{% for i in range(1000) %}{{ 'x' * 999999 }}{% endfor %}",
    "literal output": "{% for i in range(200) %}" + "x" * 9999 + "{% endfor %}",
    "huge number": "{{ (10**1000)**1000 }}",
    "squaring": "{% set ns = namespace(x=2) %}{% for i in range(40) %}"
    "{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x > 1 }}",
}


@pytest.mark.parametrize("name", sorted(SIZE_BOMBS))
def test_size_bombs_are_refused_before_they_are_made(name: str) -> None:
    message = refused(SIZE_BOMBS[name])
    assert message.startswith("template not allowed: "), message


def test_a_lone_expression_is_bounded_too() -> None:
    # A single `{{ ... }}` keeps its type (a list here): it used to skip the size check.
    assert refused("{{ [['x' * 9999] * 99] * 99 }}") == (
        f"template not allowed: the result of '*' {TOO_LARGE}"
    )
    assert refused("{{ range(100000)|batch(1)|batch(1)|list }}") == (
        f"template not allowed: the rendered value {TOO_LARGE}"
    )


def test_nesting_made_while_rendering_is_bounded() -> None:
    message = refused(
        "{% set ns = namespace(x=1) %}{% for i in range(300) %}{% set ns.x = [ns.x] %}"
        "{% endfor %}{{ ns.x }}"
    )
    assert message == (
        "template not allowed: a value made by the template nests more than 200 levels deep"
    )


def test_sizing_shares_the_work_for_a_value_used_many_times() -> None:
    inner = ["x"] * 1000
    shared = [inner] * 1000  # a million strings to print, but two lists to walk
    budget = Budget(clock=StoppedClock())
    assert rendered_size(shared, budget) == MAX_RENDERED_SIZE + 1
    assert budget.steps < 1000


# ---- compiling -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "[" * 600 + "]" * 600 + " }}",
        "x {{ " + "(" * 600 + "1" + ")" * 600 + " }}",
        "{{ 1" + " + 1" * 500 + " }}",
        "{% if true %}" * 400 + "{% endif %}" * 400,
    ],
)
def test_templates_too_deep_to_compile_are_errors_not_crashes(source: str) -> None:
    assert refused(source).startswith("template not allowed: it nests too deeply to compile")


def test_templates_too_long_to_compile_are_refused() -> None:
    source = "{{ 1 }}" * (MAX_TEMPLATE_LENGTH // 7 + 1)
    assert refused(source) == (
        f"template not allowed: it is {len(source):,} characters long; a template may be "
        f"at most {MAX_TEMPLATE_LENGTH:,}"
    )


# ---- what still works ------------------------------------------------------------------------

LEGIT = {
    "a loop of a few thousand": (
        "{% for i in range(3000) %}{{ i }},{% endfor %}",
        ",".join(str(i) for i in range(3000)) + ",",
    ),
    "nested loops of a few hundred": (
        "{% for i in range(300) %}{% for j in range(300) %}{% endfor %}{% endfor %}done",
        "done",
    ),
    "a macro called a thousand times": (
        "{% macro greet(n) %}hi {{ n }} {% endmacro %}"
        "{% for i in range(1000) %}{{ greet(i) }}{% endfor %}",
        "".join(f"hi {i} " for i in range(1000)),
    ),
    "recursion a few levels deep": (
        "{% macro f(n) %}{{ n }}{% if n %}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(20) }}",
        "".join(str(n) for n in range(20, -1, -1)),
    ),
    "a namespace accumulating": (
        "{% set ns = namespace(total=0) %}{% for i in vars['items'] %}"
        "{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}",
        str(sum(range(50))),
    ),
    "a joined list": ("{{ range(2000)|join(', ') }}", ", ".join(map(str, range(2000)))),
    "a large text": ("{{ 'ab' * 400000 }}", "ab" * 400000),
    "json of data": ("{{ vars.caller|tojson }}", '{"name": "Alex"}'),
    "a realistic payload": (
        "{{ {'caller': vars.caller.name, 'cart': vars['items'][:3], 'run': run.key} }}",
        {"caller": "Alex", "cart": [0, 1, 2], "run": "k"},
    ),
    "lipsum": ("{{ lipsum(2, html=false)|length > 0 }}", True),
    "formatting": ("{{ '%05d|%-8s|{:>6}'.format(7) % (42, 'x') }}", "00042|x       |     7"),
    "comparisons": ("{{ 3 in vars['items'] and 'a' < 'b' and [1] == [1] }}", True),
    "a big number": ("{{ 2 ** 64 }}", 2**64),
}


@pytest.mark.parametrize("name", sorted(LEGIT))
def test_realistic_templates_still_render(name: str) -> None:
    source, value = LEGIT[name]
    assert engine_render(source) == value


def test_a_realistic_suite_plans_as_before() -> None:
    suite = {
        "version": 1,
        "name": "shop",
        "vars": {"menu": [f"item-{i}" for i in range(200)], "store": "s-1"},
        "rooms": {"lab": {"source": "static", "url": "https://acme.daily.co/lab"}},
        "scenarios": [
            {
                "id": 1,
                "repeat": 3,
                "matrix": {"locale": ["en", "es"]},
                "publish_data_message": {
                    "order": "{% for item in vars.menu %}{{ item }};{% endfor %}",
                    "menu": "{{ vars.menu|select('ne', 'item-0')|list }}",
                    "who": "{{ matrix.locale }}-{{ run.repeat }}",
                },
            }
        ],
    }
    plan = compile_text(dump(suite))
    assert len(plan.runs) == 6
    first = plan.runs[0].publish_data_message
    assert first["order"].count(";") == 200
    assert len(first["menu"]) == 199
    assert first["who"] == "en-1"


def test_bombs_are_located_errors_of_the_compiler() -> None:
    errors = suite_errors(
        dump(
            {
                "version": 1,
                "name": "bombs",
                "rooms": {"lab": {"source": "static", "url": "{{ lipsum(10**5) }}"}},
                "scenarios": [{"id": 1, "publish_data_message": {"v": WORK_BOMBS["nested loops"]}}],
            }
        )
    )
    assert [e.split(": ", 1)[0] for e in errors] == ["suite.yaml:6:10", "suite.yaml:10:8"]


# ---- through the CLI, with the memory capped -------------------------------------------------

BOMB_SUITE = {
    "version": 1,
    "name": "bombs",
    "rooms": {"lab": {"source": "static", "url": "https://acme.daily.co/lab"}},
    "scenarios": [
        {
            "id": 1,
            "publish_data_message": {
                "loops": WORK_BOMBS["nested loops"],
                "nested": SIZE_BOMBS["nested repetition"],
                "printed": SIZE_BOMBS["printing a shared structure"],
                "joined": SIZE_BOMBS["join filter"],
            },
        }
    ],
}

GIB = 1 << 30


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_the_cli_refuses_bombs_quickly_within_a_gibibyte(tmp_path: Path, command: str) -> None:
    path = write_suite(tmp_path, dump(BOMB_SUITE), "bombs.yaml")
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "specrunner", command, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=minimal_env(),
        preexec_fn=_cap_memory,
        check=False,
    )
    took = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    assert took < FAST + 2, f"took {took:.1f} s"  # + the interpreter's start
    lines = [line for line in done.stderr.splitlines() if "bombs.yaml:" in line]
    assert len(lines) == 4, done.stderr
    assert all("template not allowed: " in line for line in lines), done.stderr
    assert "Traceback" not in done.stderr
