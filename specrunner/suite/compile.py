"""Compile a validated suite into a plan of runs. Pure: no network, no files written.

Order of work: pick the environment, render vars, agent and each scenario's id, plan the
room sources (their templates are checked now and rendered at run time), expand each
scenario into cells x repeats with stable keys, apply the selection, then render each
selected run's `publish_data_message`: parts that do not change per run are rendered once
per scenario or per cell, and each template is compiled only once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from specrunner.errors import Diagnostic, SuiteError
from specrunner.masking import SecretTracker
from specrunner.models import (
    Expectation,
    Plan,
    PlannedScenario,
    Selection,
)
from specrunner.suggest import did_you_mean, listing
from specrunner.suite.load import Document, JsonPath
from specrunner.suite.matrix import cell_label
from specrunner.suite.merge import deep_merge, merge_nodes
from specrunner.suite.overrides import unknown_vars
from specrunner.suite.rooms import check_room_names, plan_room, resolve_room
from specrunner.suite.runs import ScenarioDraft, expand_runs, select_scenarios
from specrunner.suite.sandbox import EnvProxy, as_secret
from specrunner.suite.selection import apply_overrides, run_key_prefix
from specrunner.suite.settings import (
    DEFAULT_TIMEOUT,
    Setting,
    cells_of,
    expectation_of,
    repeat_of,
    timeout_of,
    value_of,
)
from specrunner.suite.size import DEFAULT_MAX_RUNS, RunCap
from specrunner.suite.spoiled import NOTHING, Spoiled
from specrunner.suite.template import (
    PAYLOAD_SCOPE,
    SUITE_SCOPE,
    VARS_SCOPE,
    Const,
    Node,
    TemplateEngine,
    TemplateFailure,
)


@dataclass(frozen=True, slots=True)
class CompileOptions:
    environment: str | None = None
    overrides: tuple[tuple[tuple[str, ...], Any], ...] = ()
    tags: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    shard: tuple[int, int] | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    lenient_env: bool = False
    """Unset environment variables are not errors (for `validate`, which needs no secrets)."""
    max_runs: int = DEFAULT_MAX_RUNS
    """The most runs the plan may hold, after the selection (see `suite.size`); checked
    before the runs it counts are made."""
    selecting: bool = True
    """The command takes a selection (`plan`, `run`; not `validate`): a plan over
    `max_runs` is told to narrow it."""
    spoiled: Spoiled = NOTHING
    """The parts of the suite its schema problems spoil: left out, not compiled."""


def compile_plan(doc: Document, options: CompileOptions) -> Plan:
    return _Compiler(doc, options).plan()


def environment_names(doc: Document) -> list[str]:
    environments = doc.data.get("environments") or {}
    return list(environments)


class _Compiler:
    def __init__(self, doc: Document, options: CompileOptions) -> None:
        self.doc = doc
        self.data: dict[str, Any] = doc.data
        self.options = options
        self.problems: list[Diagnostic] = []
        self.tracker = SecretTracker()
        self.engine = TemplateEngine(self.tracker)
        self.env = EnvProxy(options.environ, lenient=options.lenient_env, tracker=self.tracker)
        self._failed_templates: set[JsonPath] = set()
        self._payloads: dict[JsonPath, Node] = {}
        self.cap = RunCap(
            options.max_runs,
            options.shard[1] if options.shard is not None else 1,
            selecting=options.selecting,
        )

    # -- problems

    def fail(self, path: JsonPath, message: str, *, at_key: bool = False) -> None:
        self.problems.append(self.doc.diagnostic(path, message, at_key=at_key))

    def template_failed(self, failure: TemplateFailure) -> None:
        if failure.path in self._failed_templates:
            return
        self._failed_templates.add(failure.path)
        self.fail(failure.path, self.tracker.secrets.redact_text(failure.message, min_length=1))

    def compile(self, raw: Any, path: JsonPath, scope: frozenset[str]) -> Node:
        failures: list[TemplateFailure] = []
        node = self.engine.compile(raw, path, scope, failures)
        for failure in failures:
            self.template_failed(failure)
        return node

    def render(self, node: Node, context: dict[str, Any]) -> tuple[Any, Any] | None:
        try:
            return self.engine.render(node, context)
        except TemplateFailure as failure:
            self.template_failed(failure)
            return None

    def stop_if_failed(self) -> None:
        if self.problems:
            raise SuiteError(self.problems)

    # -- the plan

    def plan(self) -> Plan:
        environment = self.pick_environment()
        env_conf: dict[str, Any] = (self.data.get("environments") or {}).get(environment) or {}
        env_path: JsonPath = ("environments", environment) if environment else ()
        context = self.engine.context(
            env=self.env,
            suite={"name": self.data["name"], "version": self.data["version"]},
            environment=environment,
        )
        context["vars"] = self.render_vars(env_conf, env_path, context)
        agent = self.render_agent(env_conf, env_path, context)
        rooms = {
            name: plan_room(self, name, conf, context, self.options.environ)
            for name, conf in self.data["rooms"].items()
            if name not in self.options.spoiled.rooms
        }
        defaults = self.defaults(env_conf, env_path)
        check_room_names(self, [(env_conf, env_path), *defaults])
        scenarios = [
            self.plan_scenario(index, raw, env_conf, env_path, defaults, context)
            for index, raw in self.scenarios()
        ]
        planned = [s for s in scenarios if s is not None]
        self.check_unique(planned)
        # With problems already found, render every scenario anyway to report them all
        # (and with scenarios left out, a selection could not be judged).
        selected = (
            select_scenarios(
                planned,
                self.options.tags,
                self.options.scenarios,
                self.doc.path,
                self.tracker.secrets,
            )
            if not self.problems and not self.options.spoiled.anything
            else planned
        )
        self.check_size(selected, defaults)
        runs = expand_runs(self.engine, selected, context, self.options.shard, self.template_failed)
        self.stop_if_failed()
        if self.options.shard is not None:
            self.cap.check_shard(len(runs), self.options.shard)
        return Plan(
            suite_name=self.data["name"],
            suite_file=self.doc.path,
            version=self.data["version"],
            description=self.data.get("description"),
            environment=environment,
            agent=agent,
            scenarios=tuple(s.plan for s in selected),
            runs=tuple(runs),
            rooms=rooms,
            selection=Selection(
                environment=environment,
                tags=self.options.tags,
                scenarios=self.options.scenarios,
                shard=self.options.shard,
                overrides=tuple(".".join(path) for path, _ in self.options.overrides),
            ),
            total_runs=sum(len(s.plan.cells) * s.plan.repeat for s in planned),
            secrets=self.tracker.secrets,
            env_names=tuple(sorted(self.env.used)),
        )

    def scenarios(self) -> list[tuple[int, dict[str, Any]]]:
        """The scenarios to compile, with their indices: all but the spoiled ones."""
        return [
            (index, raw)
            for index, raw in enumerate(self.data["scenarios"])
            if index not in self.options.spoiled.scenarios
        ]

    def pick_environment(self) -> str | None:
        """The environment to compile; stops here only when there is none to pick."""
        environments: dict[str, Any] = self.data.get("environments") or {}
        names = list(environments)
        spoiled = self.options.spoiled.default_environment
        default = None if spoiled else self.data.get("default_environment")
        chosen = self.options.environment
        if default is not None and default not in environments:
            self.fail(
                ("default_environment",),
                f"default_environment {default!r} is not an "
                f"environment of this suite{did_you_mean(default, names)}"
                f"{listing('environments', names)}",
            )
            if chosen is None:
                self.stop_if_failed()
        if chosen is not None:
            if not environments:
                self.fail((), f"--env {chosen!r}: this suite defines no environments")
                self.stop_if_failed()
            elif chosen not in environments:
                self.fail(
                    ("environments",),
                    f"--env {chosen!r}: unknown environment"
                    f"{did_you_mean(chosen, names)}{listing('environments', names)}",
                    at_key=True,
                )
                self.stop_if_failed()
            return chosen
        if environments and default is None:
            # The schema requires default_environment with environments: only a suite
            # that was not checked against it, or whose default_environment is spoiled
            # (a problem reported with the schema's), comes here.
            if not spoiled:
                self.fail(
                    ("environments",),
                    "the suite defines environments but no default_environment: "
                    f"set default_environment{listing('environments', names)}",
                    at_key=True,
                )
            raise SuiteError(self.problems)
        return default

    def render_vars(
        self, env_conf: dict[str, Any], env_path: JsonPath, context: dict[str, Any]
    ) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        sources = [(self.data.get("vars"), ("vars",)), (env_conf.get("vars"), (*env_path, "vars"))]
        for raw, path in sources:
            if not raw:
                continue
            rendered = self.render(self.compile(raw, path, VARS_SCOPE), context)
            if rendered is not None:
                merged = deep_merge(merged, self.seal(*rendered))
        environment = env_path[1] if env_path else None
        keys = [path for path, _ in self.options.overrides]
        for unknown in unknown_vars(self.data, str(environment) if environment else None, keys):
            self.fail(unknown.path, unknown.message, at_key=unknown.at_key)
        return apply_overrides(merged, self.options.overrides)

    def seal(self, value: Any, shown: Any) -> Any:
        """Give every part of a rendered value that came from a secret its secret type,
        containers included, so that templates reading it are known to read a secret."""
        if shown is value:
            return value
        if isinstance(value, dict):
            return as_secret(
                {
                    k: self.seal(v, shown[k] if isinstance(shown, dict) else None)
                    for k, v in value.items()
                }
            )
        if isinstance(value, list):
            return as_secret(
                [
                    self.seal(v, shown[i] if isinstance(shown, list) else None)
                    for i, v in enumerate(value)
                ]
            )
        if value is not None and not isinstance(value, bool):
            self.tracker.add_derived(str(value))  # (too short a value is not searched for)
        return as_secret(value)

    def render_agent(
        self, env_conf: dict[str, Any], env_path: JsonPath, context: dict[str, Any]
    ) -> int | None:
        if "agent" in env_conf:
            raw, path = env_conf["agent"], (*env_path, "agent")
        elif "agent" in self.data and not self.options.spoiled.agent:
            raw, path = self.data["agent"], ("agent",)
        else:
            return None
        return self.render_id(raw, path, context, "agent")[0]

    def render_id(
        self, raw: Any, path: JsonPath, context: dict[str, Any], what: str
    ) -> tuple[int, bool]:
        """The rendered id, and whether it came from the environment (a secret)."""
        problems = len(self.problems)
        node = self.compile(raw, path, SUITE_SCOPE)
        rendered = self.render(node, context) if len(self.problems) == problems else None
        if rendered is None:
            return 0, False
        value, shown = rendered
        number = _positive_int(value)
        secret = shown is not value
        if secret:
            self.tracker.add(str(value))
            if number is None and self.options.lenient_env and self.env.missing:
                return 0, True  # `validate` cannot know it; `plan` checks it
        if number is None:
            self.fail(path, f"{what} must be a positive integer, but renders to {_shown(shown)}")
            return 0, secret
        return number, secret

    def defaults(
        self, env_conf: dict[str, Any], env_path: JsonPath
    ) -> list[tuple[dict[str, Any], JsonPath]]:
        """The defaults layers, most specific first: the environment's, then the suite's."""
        layers = []
        if env_conf.get("defaults"):
            layers.append((env_conf["defaults"], (*env_path, "defaults")))
        if self.data.get("defaults") and isinstance(self.data["defaults"], dict):
            layers.append((self.data["defaults"], ("defaults",)))
        return layers

    def check_size(
        self, selected: list[ScenarioDraft], defaults: list[tuple[dict[str, Any], JsonPath]]
    ) -> None:
        """Stop before any run is made when the selected scenarios plan more runs than the
        cap allows (`suite.size`), pointing at each scenario over it by itself, or else at
        the one where the total passes it. A suite with problems already found is not
        selected: with a selection asked for, it stops with those problems alone."""
        limit = self.cap.before_shard
        counts = [len(s.plan.cells) * s.plan.repeat for s in selected]
        if sum(counts) <= limit:
            return
        asked = bool(self.options.tags or self.options.scenarios)
        if asked and (self.problems or self.options.spoiled.anything):
            raise SuiteError(self.problems)
        running = 0
        crossed: JsonPath | None = None
        for scenario, count in zip(selected, counts, strict=True):
            layers = [(self.data["scenarios"][scenario.path[1]], scenario.path), *defaults]
            where = _size_key(
                scenario.path, *(_setting(layers, key) for key in ("repeat", "matrix", "include"))
            )
            if count > limit:
                self.fail(where, self.cap.scenario_over(count), at_key=where != scenario.path)
            running += count
            if crossed is None and running > limit:
                crossed = where
        if crossed is not None and max(counts) <= limit:
            self.fail(
                crossed,
                self.cap.total_over(sum(counts), selected=asked),
                at_key=crossed[-1] in ("repeat", "matrix", "include"),
            )
        raise SuiteError(self.problems)

    def plan_scenario(
        self,
        index: int,
        raw: dict[str, Any],
        env_conf: dict[str, Any],
        env_path: JsonPath,
        defaults: list[tuple[dict[str, Any], JsonPath]],
        context: dict[str, Any],
    ) -> ScenarioDraft | None:
        path: JsonPath = ("scenarios", index)
        layers = [(raw, path), *defaults]

        def setting(key: str) -> Setting:
            return _setting(layers, key)

        scenario_id, secret_id = self.render_id(raw["id"], (*path, "id"), context, "scenario id")
        name = raw.get("name") or f"scenario-{scenario_id}"
        if "name" not in raw and secret_id:
            self.fail(
                (*path, "id"),
                "this scenario's id comes from the environment, so it is "
                "a secret: give the scenario a `name` to show instead",
            )
            name = f"scenario-#{index + 1}"  # unique, so that no second error follows
        tags = tuple(value_of(setting("tags"), []))
        repeat, repeat_min = repeat_of(setting("repeat"), self.fail)
        spoiled = self.options.spoiled.settings_of(index)  # each checked once it is valid
        room = (
            None
            if "room" in spoiled
            else resolve_room(self, setting("room"), env_conf, env_path, path, name)
        )
        timeout = (
            DEFAULT_TIMEOUT if "timeout" in spoiled else timeout_of(setting("timeout"), self.fail)
        )
        expect = (
            Expectation()
            if "expect" in spoiled
            else expectation_of(
                [(layer["expect"], (*at, "expect")) for layer, at in layers if "expect" in layer],
                repeat,
                repeat_min is not None,
                (path, name),
                self.fail,
            )
        )
        cells = cells_of(
            setting("matrix"),
            setting("include"),
            setting("exclude"),
            path,
            name,
            self.fail,
            limit=self.cap,
        )
        payload = self.payload_node(raw, path, defaults)
        if cells is None:
            return None
        planned = PlannedScenario(
            name=name,
            id=scenario_id,
            tags=tags,
            room=room or "",
            repeat=repeat,
            cells=tuple(cells),
            expect=expect,
            timeout=timeout,
            repeat_min=repeat_min,
        )
        prefixes = [run_key_prefix(self.data["name"], name, cell) for cell in cells]
        return ScenarioDraft(planned, path, payload, prefixes, secret_id=secret_id)

    def payload_node(
        self, raw: dict[str, Any], path: JsonPath, defaults: list[tuple[dict[str, Any], JsonPath]]
    ) -> Node:
        node: Node | None = None
        for layer, layer_path in [*reversed(defaults), (raw, path)]:
            if "publish_data_message" in layer:
                compiled = self.compiled_payload(
                    layer["publish_data_message"], (*layer_path, "publish_data_message")
                )
                node = compiled if node is None else merge_nodes(node, compiled)
        return node if node is not None else Const(None, None)

    def compiled_payload(self, raw: Any, path: JsonPath) -> Node:
        """Defaults are shared by many scenarios: compile each payload layer once."""
        if path not in self._payloads:
            self._payloads[path] = self.compile(raw, path, PAYLOAD_SCOPE)
        return self._payloads[path]

    def check_unique(self, scenarios: list[ScenarioDraft]) -> None:
        """A run key must name one run: scenario name plus cell must be unique."""
        seen: dict[str, ScenarioDraft] = {}
        for scenario in scenarios:
            name = scenario.plan.name
            for cell, prefix in zip(scenario.plan.cells, scenario.key_prefixes, strict=True):
                label = f" with cell {cell_label(cell)}" if cell else ""
                other = seen.setdefault(prefix, scenario)
                if other is not scenario:
                    line, _ = self.doc.locate(other.path)
                    message = (
                        f"scenario {name!r}{label} is already planned by the scenario "
                        f"at line {line}: give one of them another name"
                    )
                elif scenario.key_prefixes.count(prefix) > 1:
                    message = (
                        f"scenario {name!r} has the cell {cell_label(cell)} more than "
                        "once: its matrix and include make the same cell twice"
                    )
                else:
                    continue
                self.fail(scenario.path, message)


def _setting(layers: list[tuple[dict[str, Any], JsonPath]], key: str) -> Setting:
    """The value of `key` in the first layer (scenario, then defaults) that sets it."""
    for layer, layer_path in layers:
        if key in layer:
            return layer[key], (*layer_path, key)
    return None


def _size_key(path: JsonPath, *settings: Setting) -> JsonPath:
    """Where to point at a scenario's size: the first of its settings (repeat, matrix,
    include) written on the scenario itself, else in the defaults, else the scenario."""
    written = [s[1] for s in settings if s is not None]
    own = [p for p in written if p[: len(path)] == path]
    return (own or written or [path])[0]


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if number > 0 else None
    return None


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
