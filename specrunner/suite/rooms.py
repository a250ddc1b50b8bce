"""Room sources in a plan: which one each scenario uses, and each source's templates,
checked now and rendered when runs lease rooms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from specrunner.errors import SuiteError
from specrunner.masking import SecretTracker
from specrunner.models import RoomConfig, RoomSourceKind, RoomSpec, room_capacity
from specrunner.suggest import did_you_mean, listing
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
    data: dict[str, Any]
    engine: TemplateEngine
    tracker: SecretTracker

    def fail(self, path: JsonPath, message: str, *, at_key: bool = False) -> None: ...

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
        optional_unset=tuple(sorted(probe.used - probe.missing - set(environ))),
    )


def resolve_room(
    compiler: _Compiler,
    setting: tuple[Any, JsonPath] | None,
    env_conf: dict[str, Any],
    env_path: JsonPath,
    path: JsonPath,
    name: str,
) -> str | None:
    """The room source of the scenario at `path`: its own `room`, else the environment's,
    else the defaults', else the only one; None (reported) when there is none or it is
    unknown."""
    rooms = list(compiler.data["rooms"])
    if setting is not None and setting[1][: len(path)] == path:
        chosen, where = setting
    elif "room" in env_conf:
        chosen, where = env_conf["room"], (*env_path, "room")
    elif setting is not None:
        chosen, where = setting
    elif len(rooms) == 1:
        return str(rooms[0])
    else:
        compiler.fail(
            path,
            f"scenario {name!r} has no room: set `room` on the scenario, in "
            f"`defaults` or on the environment{listing('rooms', rooms)}",
        )
        return None
    if chosen not in compiler.data["rooms"]:
        _unknown_room(compiler, chosen, where)
        return None
    return str(chosen)


def check_room_names(compiler: _Compiler, layers: list[tuple[dict[str, Any], JsonPath]]) -> None:
    """The `room` of the environment and of the defaults must name a room source even
    where every scenario names its own: a scenario added later would take it."""
    for layer, path in layers:
        room = layer.get("room")
        if isinstance(room, str) and room not in compiler.data["rooms"]:
            _unknown_room(compiler, room, (*path, "room"))


def _unknown_room(compiler: _Compiler, name: Any, where: JsonPath) -> None:
    rooms = list(compiler.data["rooms"])
    compiler.fail(
        where, f"unknown room {name!r}{did_you_mean(name, rooms)}{listing('rooms', rooms)}"
    )
