"""Plan a room source: check its templates now, render them when runs lease rooms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from specrunner.errors import SuiteError
from specrunner.masking import SecretTracker
from specrunner.models import RoomConfig, RoomSourceKind, RoomSpec, room_capacity
from specrunner.suite.load import Document, JsonPath
from specrunner.suite.sandbox import EnvProxy
from specrunner.suite.template import (
    SUITE_SCOPE,
    Node,
    TemplateEngine,
    TemplateFailure,
)


class _Compiler(Protocol):
    doc: Document
    engine: TemplateEngine
    tracker: SecretTracker

    def compile(self, raw: Any, path: JsonPath, scope: frozenset[str]) -> Node: ...

    def template_failed(self, failure: TemplateFailure) -> None: ...


def plan_room(
    compiler: _Compiler,
    name: str,
    conf: dict[str, Any],
    context: dict[str, Any],
    environ: Mapping[str, str],
) -> RoomSpec:
    path: JsonPath = ("rooms", name)
    source = RoomSourceKind(conf["source"])
    node = compiler.compile(conf, path, SUITE_SCOPE)
    # A dry run with a lenient `env` finds undefined names and lists the variables the
    # room needs, without needing their values.
    probe = EnvProxy(environ, lenient=True, tracker=compiler.tracker)
    try:
        compiler.engine.render(node, {**context, "env": probe})
    except TemplateFailure as failure:
        compiler.template_failed(failure)
    missing = tuple(sorted(probe.missing))

    def render(run_environ: Mapping[str, str]) -> RoomConfig:
        # Run time: what this render reads from `env` is recorded in a tracker of its own
        # (seeded with what compiling saw) and handed over in `RoomConfig.secrets`.
        tracker = SecretTracker(compiler.tracker.secrets)
        env = EnvProxy(run_environ, lenient=False, tracker=tracker)
        try:
            values, shown = compiler.engine.tracking(tracker).render(node, {**context, "env": env})
        except TemplateFailure as failure:
            message = tracker.secrets.redact_text(failure.message, min_length=1)
            raise SuiteError([compiler.doc.diagnostic(failure.path, message)]) from None
        return RoomConfig(name, source, values, shown, tracker.secrets)

    return RoomSpec(
        name=name,
        source=source,
        capacity=room_capacity(source, conf),
        env_names=tuple(sorted(probe.used)),
        missing_env=missing,
        render=render,
    )
