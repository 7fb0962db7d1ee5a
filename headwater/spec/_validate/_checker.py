"""What pipeline-wide and DAG rules share: the problems found so far, lookups in the
spec, and the rules on one layer of task options (``task_defaults``, a component's or a
task's own)."""

from __future__ import annotations

from dataclasses import dataclass, field

from headwater.errors import Location, Problem
from headwater.spec._models import (
    TASK_NOTIFICATION_EVENTS,
    ComponentSpec,
    NotificationSpec,
    PipelineSpec,
    SourceLocation,
    TaskOptions,
)
from headwater.spec._validate._common import (
    ENV_RE,
    POOL_RE,
    REF_NAME_MAX,
    REF_NAME_RE,
    asset_error,
)

#: The artifact types that may be registered as model versions (as the store's).
MODEL_ARTIFACT_TYPES = frozenset({"headwater.Model", "system.Model"})

ASSET_HINT = (
    "write a URI-like name such as 's3://bucket/churn/features' or 'models://churn': "
    "a scheme, '://', then no spaces, at most 512 characters"
)


@dataclass
class SpecChecker:
    """Collects the problems of one spec; the pipeline and DAG checkers add to it."""

    spec: PipelineSpec
    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        message: str,
        *,
        pipeline: str | None = None,
        task: str | None = None,
        source: SourceLocation | None = None,
        hint: str | None = None,
        code: str = "invalid",
    ) -> None:
        loc = Location(
            pipeline=pipeline or self.spec.name,
            task=task,
            file=source.file if source else None,
            line=source.line if source else None,
        )
        self.problems.append(Problem(message, loc, hint, code))

    def component(self, name: str) -> ComponentSpec | None:
        return self.spec.components.get(name)

    def ancestors(self, schema_title: str) -> list[str]:
        info = self.spec.artifact_types.get(schema_title)
        return [schema_title, *(info.bases if info else [])]

    # ------------------------------------------------------------------ options

    def check_options(
        self,
        options: TaskOptions,
        task: str | None,
        source: SourceLocation | None,
        *,
        pipeline: str | None = None,
        defaults: bool = False,
    ) -> None:
        """Rules on one layer of options: task_defaults, a component's or a task's own."""
        for key in options.env:
            if not ENV_RE.match(key):
                self.add(
                    f"invalid environment variable name '{key}'",
                    pipeline=pipeline,
                    task=task,
                    source=source,
                    hint="use letters, digits and '_', not starting with a digit",
                    code="invalid_name",
                )
        for key in ("secrets", "connections", "variables"):
            for name in getattr(options, key) or ():
                if len(name) > REF_NAME_MAX or not REF_NAME_RE.match(name):
                    self.add(
                        f"invalid name {name!r} in {key}",
                        pipeline=pipeline,
                        task=task,
                        source=source,
                        hint="use 1 to 64 letters, digits and single '_' between them, "
                        f"starting with a letter, e.g. {key}=['warehouse']",
                        code="invalid_name",
                    )
        if options.pool is not None and not POOL_RE.fullmatch(options.pool):
            self.add(
                f"invalid pool name {options.pool!r}",
                pipeline=pipeline,
                task=task,
                source=source,
                hint="use 1 to 64 letters, digits, '_', '-' and '.', e.g. pool='gpu'",
                code="invalid_name",
            )
        if options.assets is not None:
            if defaults:
                self.add(
                    "task_defaults cannot set assets: each task has its own outputs",
                    pipeline=pipeline,
                    task=task,
                    source=source,
                    hint="set assets on the component or the task whose output updates the "
                    "asset, e.g. task.updates_asset('model', 'models://churn')",
                    code="invalid_asset",
                )
            for name in options.assets.values():
                err = asset_error(name)
                if err:
                    self.add(
                        err,
                        pipeline=pipeline,
                        task=task,
                        source=source,
                        hint=ASSET_HINT,
                        code="invalid_asset",
                    )
        set_here = [k for k in ("setup", "teardown", "on_failure_fail_run") if getattr(options, k)]
        if set_here and defaults:
            self.add(
                f"task_defaults cannot set {', '.join(set_here)}: a setup or teardown is "
                "one task, not every task",
                pipeline=pipeline,
                task=task,
                source=source,
                hint="set it on the component (@component(setup=True)) or on the call "
                "(.as_setup(), .as_teardown(setups=...))",
                code="setup_teardown",
            )
        if options.register_models is not None and defaults:
            self.add(
                "task_defaults cannot set register: each task has its own outputs",
                pipeline=pipeline,
                task=task,
                source=source,
                hint="set register on the component whose Output[Model] is registered, e.g. "
                "@component(register={'model': 'churn'})",
                code="invalid_register",
            )
        if options.notifications is not None:
            self.check_notifications(
                options.notifications, task, source, pipeline=pipeline, task_level=True
            )

    def check_asset_outputs(
        self,
        options: TaskOptions,
        comp: ComponentSpec,
        *,
        pipeline: str | None = None,
        task: str | None = None,
        source: SourceLocation | None,
    ) -> None:
        """Every output that ``options.assets`` names is an artifact output of ``comp``."""
        for out_name in options.assets or {}:
            io = comp.outputs.get(out_name)
            if io is None:
                known = ", ".join(n for n, o in comp.outputs.items() if o.kind == "artifact")
                self.add(
                    f"assets names unknown output '{out_name}' of component '{comp.name}' "
                    f"(its artifact outputs: {known or 'none'})",
                    pipeline=pipeline,
                    task=task,
                    source=source,
                    hint="map an artifact output of the component to an asset, e.g. "
                    "assets={'model': 'models://churn'}",
                    code="unknown_output",
                )
            elif io.kind != "artifact":
                self.add(
                    f"assets maps output '{out_name}' of component '{comp.name}', which is a "
                    f"parameter ({io.describe()}); only artifact outputs update assets",
                    pipeline=pipeline,
                    task=task,
                    source=source,
                    hint=f"declare '{out_name}' as an artifact, e.g. {out_name}: Output[Model], "
                    "or leave it out of assets",
                    code="invalid_asset",
                )

    def check_register_outputs(
        self,
        options: TaskOptions,
        comp: ComponentSpec,
        *,
        pipeline: str | None = None,
        task: str | None = None,
        source: SourceLocation | None,
    ) -> None:
        """Every output that ``options.register_models`` names is a Model output of ``comp``."""
        for out_name, model in (options.register_models or {}).items():
            io = comp.outputs.get(out_name)
            models = [n for n, o in comp.outputs.items() if o.artifact_type in MODEL_ARTIFACT_TYPES]
            if io is None or io.artifact_type not in MODEL_ARTIFACT_TYPES:
                what = (
                    f"unknown output '{out_name}'"
                    if io is None
                    else f"output '{out_name}', which is {io.describe()}, not a Model"
                )
                self.add(
                    f"register names {what} of component '{comp.name}' (its Model outputs: "
                    f"{', '.join(models) or 'none'})",
                    pipeline=pipeline,
                    task=task,
                    source=source,
                    hint=f"declare the output as {out_name}: Output[Model] and name it in "
                    f"register={{'{out_name}': '{model}'}}",
                    code="invalid_register",
                )

    def check_notifications(
        self,
        notifications: list[NotificationSpec],
        task: str | None,
        source: SourceLocation | None,
        *,
        pipeline: str | None = None,
        task_level: bool,
    ) -> None:
        for n in notifications:
            if n.kind == "email" and "@" not in n.target:
                self.add(
                    f"email notification target '{n.target}' is not an email address",
                    pipeline=pipeline,
                    task=task,
                    source=source,
                    hint="use e.g. Email('ml-team@example.com')",
                    code="invalid_notification",
                )
            if n.kind in ("slack", "webhook") and not n.target.startswith(("http://", "https://")):
                self.add(
                    f"{n.kind} notification target '{n.target}' is not an http(s) URL",
                    pipeline=pipeline,
                    task=task,
                    source=source,
                    hint="use the full URL, starting with https://",
                    code="invalid_notification",
                )
            if n.kind == "callable" and ":" not in n.target:
                self.add(
                    f"callable notification target '{n.target}' is not 'module:function'",
                    pipeline=pipeline,
                    task=task,
                    source=source,
                    hint="pass a function defined at the top level of a module",
                    code="invalid_notification",
                )
            bad = [e for e in n.on if task_level and e not in TASK_NOTIFICATION_EVENTS]
            if bad:
                self.add(
                    f"a task notification cannot fire on {', '.join(map(repr, bad))}; "
                    "deadlines belong to runs",
                    pipeline=pipeline,
                    task=task,
                    source=source,
                    hint="a task's notifications take on=['success', 'failure', 'retry']; put "
                    "deadline_missed on @pipeline(notify=..., deadline=...)",
                    code="invalid_notification",
                )
