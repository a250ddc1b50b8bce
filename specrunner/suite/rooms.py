"""Plan a room source: check its templates now, render them when runs lease rooms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from specrunner.errors import SuiteError
from specrunner.masking import Secrets
from specrunner.models import RoomConfig, RoomSourceKind, RoomSpec
from specrunner.suite.load import Document, JsonPath
from specrunner.suite.sandbox import EnvProxy
from specrunner.suite.template import (
    SUITE_SCOPE,
    Node,
    TemplateEngine,
    TemplateFailure,
)

DEFAULT_MAX_SESSIONS = 50


class _Compiler(Protocol):
    doc: Document
    engine: TemplateEngine
    secrets: Secrets

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
    probe = EnvProxy(environ, lenient=True, secrets=compiler.secrets)
    try:
        compiler.engine.render(node, {**context, "env": probe})
    except TemplateFailure as failure:
        compiler.template_failed(failure)
    missing = tuple(sorted(probe.missing))

    def render(run_environ: Mapping[str, str]) -> RoomConfig:
        env = EnvProxy(run_environ, lenient=False, secrets=compiler.secrets)
        try:
            values, shown = compiler.engine.render(node, {**context, "env": env})
        except TemplateFailure as failure:
            message = compiler.secrets.redact_text(failure.message, min_length=1)
            raise SuiteError([compiler.doc.diagnostic(failure.path, message)]) from None
        return RoomConfig(name, source, values, shown)

    return RoomSpec(
        name=name,
        source=source,
        capacity=_capacity(source, conf),
        env_names=tuple(sorted(probe.used)),
        missing_env=missing,
        render=render,
    )


def _capacity(source: RoomSourceKind, conf: dict[str, Any]) -> int | None:
    """The most runs the source can serve at once, where the suite bounds it."""
    limits: list[int] = []
    if "concurrency" in conf:
        limits.append(int(conf["concurrency"]))
    if source is RoomSourceKind.STATIC:
        limits.append(len(conf["rooms"]) if "rooms" in conf else 1)
    elif source is RoomSourceKind.PIPECAT_CLOUD:
        limits.append(int(conf.get("max_sessions", DEFAULT_MAX_SESSIONS)))
    return min(limits) if limits else None
