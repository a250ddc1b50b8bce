"""Jinja2 templates in suites: sandboxed, strict, compiled once, secrets tracked.

A raw YAML value becomes a tree of nodes (`compile`), each template compiled once. Every
template knows the most specific name it uses (suite < scenario < cell < run), so the
compiler can render what does not change per run once per scenario or per cell
(`specialize`) and only the rest once per run (`render`).

A rendered value is derived from a secret ("tainted") when, while it rendered, `env` gave
a value, the sandbox saw a secret-typed value pass, or the template uses a context name
(say `vars` or `vars.caller`) whose value holds a secret. A tainted value is shown as ***,
all of it, and its text is recorded so that free text echoing it is masked too. An error in
a tainted template echoes none of its values.

Every render is bounded while it runs (see `bounds`): a template that would loop or recurse
for too long, or make a value too large, is refused as a located error.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.parser import Parser

from specrunner.masking import MASK, SecretTracker
from specrunner.suggest import did_you_mean
from specrunner.suite.bounds import (
    MAX_RENDERED_SIZE,
    MAX_TEMPLATE_LENGTH,
    check_size,
    too_large,
)
from specrunner.suite.load import JsonPath
from specrunner.suite.sandbox import (
    EnvProxy,
    MissingEnv,
    Sandbox,
    UndefinedName,
)
from specrunner.suite.taint import ContextUse, follow, public_parts, reads_secret, texts
from specrunner.suite.template_errors import (
    describe,
    hide_values,
    literal,
    missing_env_message,
    undefined_message,
)
from specrunner.suite.template_tree import PlainPart, add_guards, context_uses, plain_parts


class Level(IntEnum):
    """How often a template's value can change: per suite, scenario, matrix cell or run."""

    SUITE = 0
    SCENARIO = 1
    CELL = 2
    RUN = 3


NAME_LEVELS: dict[str, Level] = {
    "env": Level.SUITE,
    "vars": Level.SUITE,
    "suite": Level.SUITE,
    "environment": Level.SUITE,
    "scenario": Level.SCENARIO,
    "matrix": Level.CELL,
    "run": Level.RUN,
}

DATA_NAMES = frozenset(NAME_LEVELS) - {"env"}
"""The context names that hold data (a secret among it, maybe); `env` is watched itself."""

VARS_SCOPE = frozenset({"env", "suite", "environment"})
SUITE_SCOPE = VARS_SCOPE | {"vars"}
PAYLOAD_SCOPE = frozenset(NAME_LEVELS)


TOO_DEEP = (
    "it nests too deeply to compile (brackets, and chains of operators like "
    "a + b + c, nest at most about 200 levels)"
)


class TemplateFailure(Exception):
    """A template that cannot be compiled or rendered, with the path of its string."""

    def __init__(self, path: JsonPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


# ---- the compiled tree -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    """A value known at compile time, and what to show for it (masked where secret)."""

    value: Any
    display: Any
    level: Level = Level.SUITE

    @property
    def tainted(self) -> bool:
        return self.display is not self.value


@dataclass(frozen=True, slots=True)
class Compiled:
    """A template compiled once, for every string with the same source and scope."""

    run: Callable[[dict[str, Any]], Any]
    native: bool
    level: Level
    uses: tuple[ContextUse, ...]
    """The context data it reads (see `template_tree.context_uses`)."""
    parts: tuple[PlainPart, ...] | None = None
    """Its text and chains of lookups, when it is made of nothing else (`_plain_render`)."""


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    path: JsonPath
    level: Level
    native: bool
    run: Callable[[dict[str, Any]], Any]
    uses: tuple[ContextUse, ...] = ()
    parts: tuple[PlainPart, ...] | None = None


@dataclass(frozen=True, slots=True)
class MappingNode:
    items: tuple[tuple[str, Node], ...]
    level: Level


@dataclass(frozen=True, slots=True)
class ListNode:
    items: tuple[Node, ...]
    level: Level


Node = Const | Template | MappingNode | ListNode


def has_template_syntax(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


class TemplateEngine:
    """Compiles raw values into node trees (each template once) and renders them."""

    def __init__(self, tracker: SecretTracker, clock: Callable[[], float] = time.monotonic) -> None:
        self.tracker = tracker
        """Where the secrets that rendering reads are recorded (and masked from)."""
        self.sandbox = Sandbox(clock)
        self._cache: dict[tuple[str, frozenset[str]], Compiled] = {}
        self._last_failure: tuple[Template, dict[str, Any], TemplateFailure] | None = None
        self._public: dict[int, tuple[Any, frozenset[str]]] = {}

    def tracking(self, tracker: SecretTracker) -> TemplateEngine:
        """This engine (its sandbox and compiled templates), recording into `tracker`."""
        engine = copy.copy(self)
        engine.tracker = tracker
        return engine

    # -- compiling

    def compile(
        self, raw: Any, path: JsonPath, scope: frozenset[str], problems: list[TemplateFailure]
    ) -> Node:
        """Compile every string in `raw`; problems are appended, never raised."""
        if isinstance(raw, str):
            if not has_template_syntax(raw):
                return Const(raw, raw)
            try:
                compiled = self._compile_source(raw, scope)
            except TemplateFailure as failure:
                problems.append(TemplateFailure(path, failure.message))
                return Const(raw, raw)
            return Template(
                raw,
                path,
                compiled.level,
                compiled.native,
                compiled.run,
                compiled.uses,
                compiled.parts,
            )
        if isinstance(raw, dict):
            entries = tuple(
                (key, self.compile(value, (*path, key), scope, problems))
                for key, value in raw.items()
            )
            return mapping_node(entries)
        if isinstance(raw, list):
            return _list(
                tuple(self.compile(v, (*path, i), scope, problems) for i, v in enumerate(raw))
            )
        return Const(raw, raw)

    def _compile_source(self, source: str, scope: frozenset[str]) -> Compiled:
        cached = self._cache.get((source, scope))
        if cached is not None:
            return cached
        if len(source) > MAX_TEMPLATE_LENGTH:
            raise TemplateFailure(
                (),
                f"template not allowed: it is {len(source):,} characters long; a template "
                f"may be at most {MAX_TEMPLATE_LENGTH:,}",
            )
        # Jinja folds constant parts while it compiles: bounded like a render.
        self.sandbox.begin()
        try:
            compiled = self._compile_new(source, scope)
        except TemplateSyntaxError as exc:
            raise TemplateFailure((), _syntax_message(exc, source)) from None
        except (RecursionError, SyntaxError):
            # Jinja's parser and Python's compiler have a limit on nesting.
            raise TemplateFailure((), f"template not allowed: {TOO_DEEP}") from None
        except MemoryError:
            raise TemplateFailure((), "template not allowed: it is too large to compile") from None
        except SecurityError as exc:
            raise TemplateFailure((), f"template not allowed: {exc}") from None
        self._cache[(source, scope)] = compiled
        return compiled

    def _compile_new(self, source: str, scope: frozenset[str]) -> Compiled:
        # Code generation (also behind find_undeclared_variables) finds unknown filters.
        tree = self.sandbox.parse(source)
        names = meta.find_undeclared_variables(tree) - set(self.sandbox.globals)
        for name in sorted(names):
            if name not in scope:
                raise TemplateFailure((), _unknown_name_message(name, scope))
        level = max((NAME_LEVELS[n] for n in names), default=Level.SUITE)
        uses = context_uses(tree, DATA_NAMES & scope)
        parts = plain_parts(tree, DATA_NAMES & scope)
        expression = _single_expression(self.sandbox, source)
        if expression is not None:
            return Compiled(self._expression_runner(expression), True, level, uses, parts)
        template = self.sandbox.from_string(self._guarded(tree))
        return Compiled(_runner(template), False, level, uses, parts)

    def _guarded(self, tree: nodes.Template) -> nodes.Template:
        guarded = add_guards(tree)
        guarded.set_environment(self.sandbox)
        return guarded

    def _expression_runner(self, expression: str) -> Callable[[dict[str, Any]], Any]:
        """Like Jinja's compile_expression, without copying the context on every call."""
        parser = Parser(self.sandbox, expression, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateFailure((), f"template syntax error: unexpected {parser.stream.current}")
        body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
        template = self.sandbox.from_string(self._guarded(nodes.Template(body, lineno=1)))
        root, new_context = template.root_render_func, template.new_context

        def run(context: dict[str, Any]) -> Any:
            ctx = new_context(context, shared=True)
            for _ in root(ctx):
                pass
            return ctx.vars["result"]

        return run

    def context(self, **names: Any) -> dict[str, Any]:
        """A template context: Jinja's globals (range, dict, ...) and the given names."""
        return {**self.sandbox.globals, **names}

    # -- rendering

    def render(self, node: Node, context: dict[str, Any]) -> tuple[Any, Any]:
        """The node's value in `context`, and what to show for it.

        The second item is the value itself unless the value is derived from a secret,
        in which case it is a masked copy.
        """
        if isinstance(node, Const):
            return node.value, node.display
        if isinstance(node, Template):
            value, tainted = self._render_template(node, context)
            return value, (MASK if tainted else value)
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            shown: dict[str, Any] = {}
            masked = False
            for key, child in node.items:
                out[key], shown[key] = self.render(child, context)
                masked = masked or shown[key] is not out[key]
            return out, (shown if masked else out)
        values: list[Any] = []
        shown_values: list[Any] = []
        masked = False
        for child in node.items:
            value, display = self.render(child, context)
            values.append(value)
            shown_values.append(display)
            masked = masked or display is not value
        return values, (shown_values if masked else values)

    def specialize(self, node: Node, context: dict[str, Any], upto: Level) -> Node:
        """Render every part whose level is at most `upto`; keep the rest as templates."""
        if isinstance(node, Const) or (isinstance(node, Template) and node.level > upto):
            return node
        if node.level <= upto:
            value, display = self.render(node, context)
            return Const(value, display)
        if isinstance(node, MappingNode):
            return mapping_node(
                tuple((k, self.specialize(c, context, upto)) for k, c in node.items)
            )
        assert isinstance(node, ListNode)
        return _list(tuple(self.specialize(c, context, upto) for c in node.items))

    def failures(self, node: Node, context: dict[str, Any], upto: Level) -> list[TemplateFailure]:
        """Every template up to `upto` that fails in `context`, not just the first."""
        if isinstance(node, Template):
            if node.level > upto:
                return []
            last = self._last_failure
            if last is not None and last[0] is node and last[1] is context:
                return [last[2]]  # the failure being reported: not rendered again
            try:
                self._render_template(node, context)
            except TemplateFailure as failure:
                return [failure]
            return []
        if isinstance(node, MappingNode):
            children: tuple[Node, ...] = tuple(child for _, child in node.items)
        elif isinstance(node, ListNode):
            children = node.items
        else:
            return []
        return [f for child in children for f in self.failures(child, context, upto)]

    def _render_template(self, node: Template, context: dict[str, Any]) -> tuple[Any, bool]:
        """The template's value, and whether it is derived from a secret."""
        try:
            return self._render_once(node, context)
        except TemplateFailure as failure:
            self._last_failure = (node, context, failure)
            raise

    def _render_once(self, node: Template, context: dict[str, Any]) -> tuple[Any, bool]:
        if node.parts is not None:
            plain = _plain_render(node.parts, node.native, context)
            if plain is not _NOT_PLAIN:
                return plain, False
        sandbox = self.sandbox
        env = context.get("env")
        reads = env.reads if isinstance(env, EnvProxy) else 0

        def tainted() -> bool:
            read = isinstance(env, EnvProxy) and env.reads != reads
            return read or sandbox.touched or reads_secret(node.uses, context)

        budget = sandbox.begin()
        try:
            value = sandbox.note(node.run(context))
            secret = tainted()
            if node.native:
                if isinstance(value, jinja2.Undefined):
                    value._fail_with_undefined_error()
                check_size(value, budget, "the rendered value")
                value = _to_json(value, hide=secret)
            elif len(value) > MAX_RENDERED_SIZE:
                raise too_large("the rendered text")
        except MissingEnv as exc:
            raise TemplateFailure(
                node.path, missing_env_message(literal(exc.name, node.source))
            ) from None
        except UndefinedName as exc:
            message = undefined_message(exc, context, node.source, node.uses, tainted())
            raise TemplateFailure(node.path, message) from None
        except SecurityError as exc:
            detail = hide_values(str(exc), node.source) if tainted() else str(exc)
            raise TemplateFailure(node.path, f"template not allowed: {detail}") from None
        except TemplateFailure as exc:
            raise TemplateFailure(node.path, exc.message) from None
        except NameError as exc:  # Jinja writes a number too large for a float as `inf`
            raise TemplateFailure(
                node.path, f"template error: a number is out of range ({exc})"
            ) from None
        except Exception as exc:  # any other error raised while rendering user code
            detail = describe(exc)
            if tainted():  # the details may hold a secret's value
                detail = f"{type(exc).__name__} (details hidden: the template reads a secret)"
            raise TemplateFailure(node.path, f"template error: {detail}") from None
        if not secret:
            return value, False
        if isinstance(env, EnvProxy) and env.lenient:
            return value, True  # a dry run (`validate`, a room's check): nothing is shown
        public = self._public_texts(node.uses, context)
        for text in texts(value):
            if text not in public and text not in node.source:
                self.tracker.add_derived(text)
        return value, True

    def _public_texts(self, uses: tuple[ContextUse, ...], context: dict[str, Any]) -> set[str]:
        """The suite's own text in the data a template uses (strings, keys of mappings not
        made from a secret): text a derived value may share without giving anything away."""
        public: set[str] = set()
        for name, steps in uses:
            value = follow(context.get(name), steps)[-1]
            key = id(value)
            cached = self._public.get(key)
            if cached is None or cached[0] is not value:
                cached = (value, frozenset(public_parts(value)))
                if len(self._public) > 64:
                    self._public.clear()
                self._public[key] = cached
            public.update(cached[1])
        return public


_NOT_PLAIN = object()
_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain_render(parts: tuple[PlainPart, ...], native: bool, context: dict[str, Any]) -> Any:
    """What a template of text and chains of lookups (`{{ run.key }}`, `attempt {{
    run.repeat }}`) renders to, found without Jinja where each chain goes through plain
    mappings of the suite's data to a plain scalar (`_plain_value`): a lone expression is
    that value, anything else the text with each value as `str` writes it, as Jinja's
    output does (`str(finalize(value))`, not escaped). Else `_NOT_PLAIN`, and the template
    is rendered by Jinja, checks and all."""
    if native:
        chain = parts[0] if len(parts) == 1 else ""
        return _NOT_PLAIN if isinstance(chain, str) else _plain_value(context, chain)
    texts: list[str] = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
            continue
        value = _plain_value(context, part)
        if value is _NOT_PLAIN:
            return _NOT_PLAIN
        texts.append(str(value))
    text = "".join(texts)
    return text if len(text) <= MAX_RENDERED_SIZE else _NOT_PLAIN


def _plain_value(context: dict[str, Any], chain: ContextUse) -> Any:
    """The value a chain of lookups reaches, where it goes through plain mappings of the
    suite's data to a plain scalar that needs no check: Jinja's sandbox looks a mapping's
    key up first too (`Sandbox.getattr`), and a value of none of the secret types reads no
    secret. Else `_NOT_PLAIN`."""
    name, steps = chain
    value = context.get(name, _NOT_PLAIN)
    for step in steps:
        if type(value) is not dict or step not in value:
            return _NOT_PLAIN
        value = value[step]
    kind = type(value)
    if kind not in _PLAIN_SCALARS:
        return _NOT_PLAIN
    if kind is str:
        return value if len(value) <= MAX_RENDERED_SIZE else _NOT_PLAIN
    if kind is float and not math.isfinite(value):
        return _NOT_PLAIN
    return value


def mapping_node(entries: tuple[tuple[str, Node], ...]) -> Node:
    consts = [child for _, child in entries if isinstance(child, Const)]
    if len(consts) == len(entries):
        value = {key: child.value for key, child in entries}  # type: ignore[union-attr]
        if not any(c.tainted for c in consts):
            return Const(value, value)
        return Const(value, {key: child.display for key, child in entries})  # type: ignore[union-attr]
    return MappingNode(entries, max(child.level for _, child in entries))


def _list(items: tuple[Node, ...]) -> Node:
    consts = [child for child in items if isinstance(child, Const)]
    if len(consts) == len(items):
        value = [c.value for c in consts]
        if not any(c.tainted for c in consts):
            return Const(value, value)
        return Const(value, [c.display for c in consts])
    return ListNode(items, max(child.level for child in items))


def _runner(template: jinja2.Template) -> Callable[[dict[str, Any]], str]:
    """Render with the caller's context as is: it already holds the globals (`context`).
    The text is counted as it streams, and refused as soon as it is too long."""
    root, new_context = template.root_render_func, template.new_context

    def run(context: dict[str, Any]) -> str:
        parts: list[str] = []
        size = 0
        for part in root(new_context(context, shared=True)):
            size += len(part)
            if size > MAX_RENDERED_SIZE:
                raise too_large("the rendered text")
            parts.append(part)
        return "".join(parts)

    return run


def _single_expression(sandbox: jinja2.Environment, source: str) -> str | None:
    """The expression's text when `source` is exactly one `{{ ... }}`, else None."""
    if not (source.startswith("{{") and source.endswith("}}")):
        return None
    tokens = [(kind, value) for _, kind, value in sandbox.lex(source) if kind != "whitespace"]
    kinds = [kind for kind, _ in tokens]
    if (
        kinds[0] != "variable_begin"
        or kinds[-1] != "variable_end"
        or kinds.count("variable_begin") != 1
        or "data" in kinds
    ):
        return None
    return source[len(tokens[0][1]) : len(source) - len(tokens[-1][1])]


def _syntax_message(exc: TemplateSyntaxError, source: str) -> str:
    where = f" (line {exc.lineno} of the template)" if source.count("\n") and exc.lineno else ""
    return f"template syntax error: {exc.message}{where}"


def _unknown_name_message(name: str, scope: frozenset[str]) -> str:
    if name in NAME_LEVELS:
        return f"{name!r} is not available here; names available here: {', '.join(sorted(scope))}"
    return (
        f"undefined name {name!r} in template{did_you_mean(name, scope)} "
        f"(names available here: {', '.join(sorted(scope))})"
    )


def _to_json(value: Any, *, hide: bool = False) -> Any:
    """`value` as JSON data (its size was checked); `hide`: say nothing of its contents."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TemplateFailure((), "template renders to a number that is not finite")
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                shown = "" if hide else f" {key!r}"
                raise TemplateFailure(
                    (), f"template renders to a mapping with a non-string key{shown}"
                )
            out[key] = _to_json(item, hide=hide)
        return out
    if isinstance(value, list | tuple):
        return [_to_json(item, hide=hide) for item in value]
    if isinstance(value, EnvProxy):
        raise TemplateFailure((), "'env' cannot be used as a value; use env.NAME")
    raise TemplateFailure(
        (), f"template renders to a {type(value).__name__}, which is not a JSON value"
    )
