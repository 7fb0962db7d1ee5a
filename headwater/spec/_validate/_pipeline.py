"""Pipeline-wide rules: metadata, artifact types, component interfaces."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from headwater.spec._models import (
    ComponentSpec,
    DagImplementation,
    ImporterImplementation,
    IOSpec,
    ScheduleSpec,
    SourceLocation,
    TaskSpec,
    TuneImplementation,
)
from headwater.spec._params import constraint_errors, type_error
from headwater.spec._validate._checker import ASSET_HINT, SpecChecker
from headwater.spec._validate._common import (
    NAME_RE,
    asset_error,
    cron_error,
    interval_error,
    text_problems,
    timezone_error,
)
from headwater.spec._validate._dag import DagChecker


@dataclass
class PipelineChecker(SpecChecker):
    """Every rule on a pipeline spec: its own, then those of each DAG in it."""

    # ------------------------------------------------------------------ entry

    def run(self) -> None:
        spec = self.spec
        if not NAME_RE.match(spec.name):
            self.add(
                f"invalid pipeline name '{spec.name}'",
                source=spec.source,
                hint="use letters, digits, '_', '-' and '.', starting with a letter or '_'",
                code="invalid_name",
            )
        self.check_text()
        self.check_metadata()
        self.check_artifact_types()
        for key, comp in spec.components.items():
            self.check_component_interface(comp, key)
        self.check_component_interface(spec.root, spec.root.name, root=True)
        for name, io in spec.parameters.items():
            if io.kind == "artifact":
                self.add(
                    f"pipeline parameter '{name}' is an artifact; a pipeline run "
                    "takes parameter values only",
                    source=spec.root.source,
                    hint="bring files in with headwater.importer(uri, ArtifactType) "
                    "and pass the uri as a str parameter",
                    code="artifact_parameter",
                )
        self.check_dag_component(spec.root, spec.name)
        for comp in spec.components.values():
            if isinstance(comp.implementation, DagImplementation):
                self.check_dag_component(comp, comp.name)
            elif isinstance(comp.implementation, TuneImplementation):
                self.check_tune_component(comp, comp.implementation)

    # ------------------------------------------------------------------ tune steps

    def check_tune_component(self, comp: ComponentSpec, impl: TuneImplementation) -> None:
        """A tune step: its tuned pipeline (by every rule), its space, objective and
        settings against that pipeline, and an interface that matches it."""
        from headwater.errors import HeadwaterError, ValidationError
        from headwater.spec._tuning import check_objective, check_settings, parse_space

        src = comp.source
        inner = impl.pipeline
        hint = "see tune_step in docs/experiments-and-tuning.md"
        checker = PipelineChecker(inner)
        checker.run()
        for problem in checker.problems:
            self.add(
                f"tune step '{comp.name}': tuned pipeline '{inner.name}': {problem.message}",
                source=src,
                hint=problem.hint,
                code=problem.code,
            )
        if any(isinstance(c.implementation, TuneImplementation) for c in inner.components.values()):
            self.add(
                f"tune step '{comp.name}': tuned pipeline '{inner.name}' has a tune step of "
                "its own; a trial cannot start a study",
                source=src,
                hint="tune the inner pipeline in its own step, before or after this one",
                code="nested_tune",
            )
        names: list[str] = []
        for check in (
            lambda: check_settings(
                direction=impl.direction,
                sampler=impl.sampler,
                pruner=impl.pruner,
                trials=impl.trials,
                parallel=impl.parallel,
                max_failed=impl.max_failed,
                goal=impl.goal,
                seed=impl.seed,
            ),
            lambda: check_objective(inner, impl.objective),
            lambda: names.extend(parse_space(impl.space, inner).names),
        ):
            try:
                check()
            except ValidationError:
                pass  # the tuned pipeline's own problems are listed above
            except HeadwaterError as exc:
                self.add(
                    f"tune step '{comp.name}': {exc.message}",
                    source=src,
                    hint=exc.hint or hint,
                    code="bad_tune",
                )
        if impl.study is not None and not NAME_RE.match(impl.study):
            self.add(
                f"tune step '{comp.name}': study {impl.study!r} cannot prefix a study name",
                source=src,
                hint="use letters, digits, '_', '-' and '.', starting with a letter or '_'",
                code="invalid_name",
            )
        expected = {n: io for n, io in inner.parameters.items() if n not in impl.space}
        if comp.inputs != expected:
            self.add(
                f"tune step '{comp.name}': its inputs ({', '.join(sorted(comp.inputs)) or 'none'}) "
                f"are not the parameters of '{inner.name}' outside the search space "
                f"({', '.join(sorted(expected)) or 'none'})",
                source=src,
                hint="make tune steps with headwater.tune_step",
                code="bad_tune",
            )
        outputs = {"best_params", "best_value", "best_run_id", "study"}
        if set(comp.outputs) != outputs:
            self.add(
                f"tune step '{comp.name}': its outputs must be {', '.join(sorted(outputs))}",
                source=src,
                hint="make tune steps with headwater.tune_step",
                code="bad_tune",
            )

    # ------------------------------------------------------------------ metadata

    def check_text(self) -> None:
        """Every string in the spec is valid Unicode without NUL, every number finite:
        the spec is stored and served as UTF-8 JSON."""
        data = self.spec.model_dump(mode="python")
        try:  # the common case in C: storable if it writes out as UTF-8 JSON without NUL
            text = json.dumps(data, ensure_ascii=False, allow_nan=False, default=str)
            if "\\u0000" not in text:
                text.encode("utf-8")
                return
        except (ValueError, UnicodeEncodeError):
            pass
        for path, why in text_problems(data):
            self.add(
                f"{path} {why}",
                source=self.spec.source,
                hint="write names, descriptions and defaults as plain UTF-8 text, and "
                "numbers as finite values",
                code="invalid_text",
            )

    def check_metadata(self) -> None:
        spec = self.spec
        src = spec.source
        sched = spec.schedule
        if sched is not None:
            if sched.kind == "assets":
                self.check_asset_schedule(sched, src)
            if sched.kind == "cron" and sched.cron:
                err = cron_error(sched.cron)
                if err:
                    hint = (
                        "use five cron fields like '0 3 * * *', or a preset such as "
                        "'@hourly', '@daily', '@weekly', '@monthly', '@yearly'"
                    )
                    if "never fires" in err:
                        hint = (
                            "pick a day of the month that the months have: February has 28 "
                            "or 29 days; April, June, September and November 30"
                        )
                    self.add(
                        f"invalid schedule '{sched.cron}': {err}",
                        source=src,
                        hint=hint,
                        code="invalid_schedule",
                    )
            if sched.kind == "interval" and sched.interval_seconds is not None:
                err = interval_error(sched.interval_seconds)
                if err:
                    self.add(
                        f"invalid schedule: {err}",
                        source=src,
                        hint="use an interval between a second and ten years, e.g. "
                        "schedule=timedelta(hours=6), or a cron such as '@yearly'",
                        code="invalid_schedule",
                    )
            tz_err = timezone_error(sched.timezone)
            if tz_err:
                self.add(
                    tz_err,
                    source=src,
                    hint="use an IANA time zone name such as 'UTC' or 'Europe/Paris'",
                    code="invalid_timezone",
                )
        for label, value in (("start_date", spec.start_date), ("end_date", spec.end_date)):
            if value is not None and value.tzinfo is None:
                self.add(
                    f"{label} {value.isoformat()} has no time zone",
                    source=src,
                    hint="pass an aware datetime, e.g. datetime(2026, 1, 1, tzinfo=timezone.utc)",
                    code="invalid_date",
                )
        if (
            spec.start_date is not None
            and spec.end_date is not None
            and spec.start_date.tzinfo is not None
            and spec.end_date.tzinfo is not None
            and spec.end_date <= spec.start_date
        ):
            self.add(
                f"end_date {spec.end_date.isoformat()} is not after start_date "
                f"{spec.start_date.isoformat()}",
                source=src,
                hint="move end_date after start_date, or drop it",
                code="invalid_date",
            )
        self.check_notifications(spec.notifications, None, src, task_level=False)
        self.check_options(spec.task_defaults, None, src, defaults=True)

    def check_asset_schedule(self, sched: ScheduleSpec, src: SourceLocation | None) -> None:
        seen: set[str] = set()
        for name in sched.assets:
            err = asset_error(name)
            if err:
                self.add(f"schedule: {err}", source=src, hint=ASSET_HINT, code="invalid_schedule")
            if name in seen:
                self.add(
                    f"asset '{name}' is listed twice in the schedule",
                    source=src,
                    hint="list each asset once",
                    code="invalid_schedule",
                )
            seen.add(name)

    def check_artifact_types(self) -> None:
        for title, info in self.spec.artifact_types.items():
            if title != info.schema_title:
                self.add(f"artifact type key '{title}' differs from its schema_title")
            for base in info.bases:
                if base not in self.spec.artifact_types:
                    self.add(f"artifact type '{title}' names an unknown base type '{base}'")

    # ------------------------------------------------------------------ components

    def check_component_interface(
        self, comp: ComponentSpec, key: str, *, root: bool = False
    ) -> None:
        src = comp.source
        if not root and not NAME_RE.match(comp.name):
            self.add(
                f"invalid component name '{comp.name}'",
                source=src,
                hint="use letters, digits, '_', '-' and '.', starting with a letter or '_'; "
                "set it with @component(name=...)",
                code="invalid_name",
            )
        for direction, ios in (("input", comp.inputs), ("output", comp.outputs)):
            for name, io in ios.items():
                if not name.isidentifier():
                    self.add(
                        f"component '{comp.name}' has an {direction} named '{name}', "
                        "which is not a Python identifier",
                        source=src,
                        code="invalid_name",
                    )
                if io.kind == "artifact" and io.artifact_type not in self.spec.artifact_types:
                    self.add(
                        f"component '{comp.name}' {direction} '{name}' has unknown artifact "
                        f"type '{io.artifact_type}'",
                        source=src,
                        code="unknown_type",
                    )
                if direction == "input":
                    self.check_default(comp, name, io)
        self.check_options(comp.options, None, src)
        self.check_asset_outputs(comp.options, comp, source=src)
        self.check_register_outputs(comp.options, comp, source=src)
        impl = comp.implementation
        if (
            isinstance(impl, ImporterImplementation)
            and impl.artifact_type not in self.spec.artifact_types
        ):
            self.add(
                f"importer '{comp.name}' has unknown artifact type '{impl.artifact_type}'",
                source=src,
                code="unknown_type",
            )

    def check_default(self, comp: ComponentSpec, name: str, io: IOSpec) -> None:
        src = comp.source
        c = io.constraints
        if c is not None and io.type is not None:
            base = io.type.kind
            numeric = ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum")
            if base not in ("int", "float", "any") and any(
                getattr(c, k) is not None for k in numeric
            ):
                self.add(
                    f"parameter '{name}' of type {io.type.describe()} cannot have "
                    "minimum/maximum constraints",
                    source=src,
                    hint="use min/max on int or float parameters only",
                    code="invalid_constraint",
                )
            if c.pattern is not None:
                if base not in ("str", "any"):
                    self.add(
                        f"parameter '{name}' of type {io.type.describe()} cannot have a pattern",
                        source=src,
                        hint="use pattern= on str parameters only",
                        code="invalid_constraint",
                    )
                try:
                    re.compile(c.pattern)
                except re.error as exc:
                    self.add(
                        f"parameter '{name}' has an invalid pattern {c.pattern!r}: {exc}",
                        source=src,
                        hint="write a Python regular expression, e.g. pattern=r'^[a-z]+$'",
                        code="invalid_constraint",
                    )
            if c.minimum is not None and c.maximum is not None and c.minimum > c.maximum:
                self.add(
                    f"parameter '{name}' has minimum {c.minimum:g} above maximum {c.maximum:g}",
                    source=src,
                    hint="swap them, or drop one",
                    code="invalid_constraint",
                )
            for value in c.enum or []:
                err = type_error(value, io.type, f"enum value of parameter '{name}'")
                if err:
                    self.add(
                        err,
                        source=src,
                        hint=f"list enum values of type {io.type.describe()}",
                        code="invalid_constraint",
                    )
        if io.has_default and io.type is not None:
            err = type_error(io.default, io.type, f"default of parameter '{name}'")
            if err:
                self.add(
                    err,
                    source=src,
                    hint=f"give '{name}' a default of type {io.type.describe()}",
                    code="type_mismatch",
                )
            elif c is not None:
                for msg in constraint_errors(io.default, c, f"default of parameter '{name}'"):
                    self.add(
                        msg,
                        source=src,
                        hint=f"change the default of '{name}' to a value its constraints allow",
                        code="invalid_default",
                    )

    # ------------------------------------------------------------------ DAGs

    def check_dag_component(self, comp: ComponentSpec, pipeline: str) -> None:
        impl = comp.implementation
        if not isinstance(impl, DagImplementation):
            return
        dag = DagChecker(self, comp, impl.dag, pipeline)
        dag.run()
        for out_name, binding in impl.outputs.items():
            io = comp.outputs.get(out_name)
            producer = dag.nodes.get(binding.task)
            if producer is None or not isinstance(producer.node, TaskSpec):
                self.add(
                    f"pipeline output '{out_name}' comes from unknown task '{binding.task}'",
                    pipeline=pipeline,
                    source=comp.source,
                    code="unknown_task",
                )
                continue
            if io is None:
                self.add(
                    f"pipeline output '{out_name}' is not declared",
                    pipeline=pipeline,
                    source=comp.source,
                )
                continue
            dag.check_binding_scope(binding, (), producer.node.name, comp.source, out_name)
