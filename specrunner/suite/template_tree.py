"""What the template engine reads from a parsed template, and writes into it, before it
compiles it.

- `context_uses`: every place the template uses a context name (`vars`, `matrix`, ...) as
  the name and the longest chain of constant lookups on it (`vars.region`, `vars['a'].b`),
  so that rendering can tell, before it starts, whether the template reads a secret: a
  template that reads `vars.region` does not read `vars.token`, one that passes `vars` to a
  filter may.
- `plain_parts`: the template as text and chains, when that is all it is (`attempt {{
  run.repeat }}`): the engine can then follow the chains through the suite's plain data
  itself, without Jinja (see `TemplateEngine`).
- `add_guards`: the calls that bound a render's work, written where the work is: each loop
  counts its iterations and charges its body's size, each macro and call block its body;
  `a ~ b` and the operands of comparisons are sized before they run.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from specrunner.suite.bounds import ITEMS_PER_STEP
from specrunner.suite.sandbox import CONCAT, LOOP, SIZED, STEP
from specrunner.suite.taint import ContextUse


def context_uses(tree: nodes.Node, names: frozenset[str]) -> tuple[ContextUse, ...]:
    uses: set[ContextUse] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        use = _chain(node, names)
        if use is not None:
            uses.add(use)
        else:
            stack.extend(node.iter_child_nodes())
    return tuple(sorted(uses, key=repr))


PlainPart = str | ContextUse
"""Text written in the template, or a chain of lookups whose value it prints."""


def plain_parts(tree: nodes.Template, names: frozenset[str]) -> tuple[PlainPart, ...] | None:
    """The template's text and chains of constant lookups on context names, in order, when
    it is made of nothing else (`{{ run.key }}`, `{{ matrix['locale'] }}`, `attempt {{
    run.repeat }}`): its text as Jinja's parser left it (whitespace control applied).
    Else None."""
    body = tree.body
    if len(body) != 1 or not isinstance(body[0], nodes.Output):
        return None
    parts: list[PlainPart] = []
    for node in body[0].nodes:
        if isinstance(node, nodes.TemplateData):
            parts.append(node.data)
            continue
        chain = _chain(node, names)
        if chain is None:
            return None
        parts.append(chain)
    return tuple(parts)


def _chain(node: nodes.Node, names: frozenset[str]) -> ContextUse | None:
    steps: list[str | int] = []
    while True:
        if isinstance(node, nodes.Getattr):
            steps.append(node.attr)
            node = node.node
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str | int)
            and not isinstance(node.arg.value, bool)
        ):
            steps.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name in names:
            return node.name, tuple(reversed(steps))
        else:
            return None


def add_guards(tree: nodes.Template) -> nodes.Template:
    """`tree`, changed in place so that its work is charged as it renders."""
    result = _Guards().visit(tree)
    assert isinstance(result, nodes.Template)
    return result


def weight(body: list[nodes.Node]) -> int:
    """The steps one run through `body` is charged: one per node, and one per
    ITEMS_PER_STEP characters of its text."""
    total = 0
    for statement in body:
        for node in (statement, *statement.find_all(nodes.Node)):
            total += 1
            if isinstance(node, nodes.TemplateData):
                total += len(node.data) // ITEMS_PER_STEP
    return max(1, total)


def _guard(node: nodes.Node, name: str, *args: Any, lineno: int) -> nodes.Filter:
    call = nodes.Filter(node, name, [nodes.Const(a) for a in args], [], None, None)
    call.set_lineno(lineno)
    return call


def _step(body: list[nodes.Node], lineno: int) -> nodes.ExprStmt:
    statement = nodes.ExprStmt(_guard(nodes.Const(weight(body)), STEP, lineno=lineno))
    statement.set_lineno(lineno)
    return statement


class _Guards(NodeTransformer):
    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        test = 1 if node.test is None else weight([node.test])
        node.iter = _guard(node.iter, LOOP, test, lineno=node.lineno)
        node.body.insert(0, _step(node.body, node.lineno))
        return node

    def visit_Macro(self, node: nodes.Macro) -> nodes.Node:
        self.generic_visit(node)
        node.body.insert(0, _step(node.body, node.lineno))
        return node

    def visit_CallBlock(self, node: nodes.CallBlock) -> nodes.Node:
        self.generic_visit(node)
        node.body.insert(0, _step(node.body, node.lineno))
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.Tuple(list(node.nodes), "load")
        parts.set_lineno(node.lineno)
        return _guard(parts, CONCAT, lineno=node.lineno)

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        self.generic_visit(node)
        if not isinstance(node.expr, nodes.Const):
            node.expr = _guard(node.expr, SIZED, lineno=node.lineno)
        for operand in node.ops:
            if not isinstance(operand.expr, nodes.Const):
                operand.expr = _guard(operand.expr, SIZED, lineno=node.lineno)
        return node
