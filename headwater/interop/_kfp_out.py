"""Compile a Headwater pipeline spec to Kubeflow Pipelines' IR (``PipelineSpec`` YAML,
schema 2.1.0, as the kfp 2.x compiler writes it).

Components become lightweight Python components (their code: :mod:`._kfp_code`);
DAGs, control flow and the values between tasks: :mod:`._kfp_dag`; task options map to
the IR's own (caching, retries, resources, environment, display names), or to the
container's command (``timeout`` is the ``timeout`` command around the executor).

Nothing is dropped silently. What the IR cannot express is a problem, all of them
raised together as one :class:`~headwater.errors.ExportError`: assets, pools,
priorities, notifications, deadlines, task limits, most trigger rules, templated
parameter defaults. What the IR cannot express but Kubeflow can still honour outside
it, or what changes no output, is a note, printed and written at the top of the
package: a schedule (create a recurring run: :attr:`KfpPackage.recurring_run` holds the
arguments), run limits, tags, parameter constraints, cache expiry (caching is off
instead). docs/kubeflow.md has the full table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from headwater._version import __version__
from headwater.errors import ExportError, Location
from headwater.interop._kfp_code import ComponentModule, Findings, load_function
from headwater.interop._kfp_container import (
    KFP_RUNTIME,
    command,
    duration,
    kubeflow_cron,
    resources,
)
from headwater.interop._kfp_dag import DagBuilder
from headwater.interop._kfp_ir import (
    Scope,
    artifact_type,
    io_definition,
    k8s_name,
    new_dag_component,
    output_key,
)
from headwater.spec import (
    ComponentSpec,
    DagImplementation,
    ImporterImplementation,
    IOSpec,
    PipelineSpec,
    PythonImplementation,
    TaskOptions,
    TaskSpec,
    TriggerImplementation,
    TuneImplementation,
)

DEFAULT_BASE_IMAGE = "python:3.11"
"""The image of components that set no ``image``; ``headwater compile --base-image`` or
``HEADWATER_KFP_BASE_IMAGE`` changes it."""

TARGET = "Kubeflow Pipelines IR"

# Options that steer control flow, not a process: a step or importer may set them (setup
# and teardown are refused on their own, with how to do the same in Kubeflow).
_CONTROL_OPTIONS = frozenset(
    {"display_name", "trigger_rule", "setup", "teardown", "on_failure_fail_run"}
)


@dataclass(frozen=True)
class KfpPackage:
    """A compiled Kubeflow pipeline package.

    ``text`` is the YAML to write to a file and submit with
    ``kfp.Client().create_run_from_pipeline_package``; ``notes`` says what the IR does not
    hold and how Kubeflow honours it instead; ``recurring_run`` holds the keyword arguments
    of ``kfp.Client().create_recurring_run`` that reproduce the pipeline's schedule (None
    without a recurring schedule).
    """

    pipeline: str
    text: str
    notes: tuple[str, ...]
    recurring_run: dict[str, Any] | None


def to_kfp(
    spec: PipelineSpec, *, base_image: str = DEFAULT_BASE_IMAGE, root: str | None = None
) -> KfpPackage:
    """Compile ``spec`` to a Kubeflow pipeline package.

    ``root`` is the folder the spec's file paths are relative to (the pipeline file's
    folder, where ``headwater compile`` compiles from; default: the working folder): the
    components' code is read from the modules already imported, else from those files.
    Raises :class:`~headwater.errors.ExportError` listing everything the IR cannot express.
    """
    return _Exporter(spec, base_image, root or os.getcwd()).export()


class _Exporter:
    def __init__(self, spec: PipelineSpec, base_image: str, root: str) -> None:
        self.spec = spec
        self.base_image = base_image
        self.root = root
        self.findings = Findings(spec.name)
        self.components: dict[str, dict[str, Any]] = {}
        self.executors: dict[str, dict[str, Any]] = {}
        self._keys: set[str] = set()
        self._variants: dict[str, tuple[str, str]] = {}
        self._dag_keys: dict[str, str] = {}
        self._modules: dict[tuple[str, str | None, tuple[str, ...]], str] = {}
        self._ttl: list[str] = []

    # ------------------------------------------------------------------ keys

    def new_key(self, base: str) -> str:
        key, n = base, 1
        while key in self._keys:
            n += 1
            key = f"{base}-{n}"
        self._keys.add(key)
        return key

    def add_component(self, key: str, comp: dict[str, Any]) -> None:
        self.components[key] = comp

    # ------------------------------------------------------------------ the pipeline

    def export(self) -> KfpPackage:
        spec = self.spec
        self._pipeline_checks()
        root: dict[str, Any] = new_dag_component()
        _definitions(root, spec.root)
        self._build_dag(spec.root, root)
        recurring = self._schedule()
        if self._ttl:
            self.findings.note(
                "Kubeflow's cache never expires, so caching is off for "
                + ", ".join(f"'{t}'" for t in self._ttl)
                + ", whose cache_ttl it cannot honour"
            )
        if self.findings.problems:
            raise ExportError(spec.name, TARGET, self.findings.problems)
        info: dict[str, Any] = {"name": k8s_name(spec.name)}
        if info["name"] != spec.name:
            info["displayName"] = spec.name
        if spec.description:
            info["description"] = spec.description
        document = {
            "components": dict(sorted(self.components.items())),
            "deploymentSpec": {"executors": dict(sorted(self.executors.items()))},
            "pipelineInfo": info,
            "root": root,
            "schemaVersion": "2.1.0",
            "sdkVersion": f"headwater-{__version__}",
        }
        body = yaml.safe_dump(document, sort_keys=True, default_flow_style=False, width=88)
        text = self._header() + body
        return KfpPackage(spec.name, text, tuple(self.findings.notes), recurring)

    def _where(self, task: str | None = None) -> Location:
        src = self.spec.source
        return Location(
            pipeline=self.spec.name,
            task=task,
            file=src.file if src else None,
            line=src.line if src else None,
        )

    def _pipeline_checks(self) -> None:
        spec, where = self.spec, self._where()
        problem = self.findings.problem
        if spec.notifications:
            problem(
                "sends notifications, which Kubeflow pipelines cannot",
                where,
                "drop notify=... for the Kubeflow build, and alert from Kubeflow's own "
                "monitoring, or from an ExitHandler task that calls your endpoint",
            )
        if spec.deadline_seconds is not None:
            problem(
                "has a deadline, which Kubeflow runs do not have",
                where,
                "drop deadline=... for the Kubeflow build",
            )
        if spec.max_active_tasks is not None:
            problem(
                f"limits its running tasks to {spec.max_active_tasks} (max_active_tasks), "
                "which Kubeflow cannot",
                where,
                "drop max_active_tasks, or bound fan-out with ParallelFor(..., parallelism=N)",
            )
        for name, io in spec.parameters.items():
            if io.has_default and _has_template(io.default):
                problem(
                    f"parameter '{name}' defaults to the template {io.default!r}, which "
                    "Headwater renders when it creates a run and Kubeflow passes unchanged",
                    where,
                    "give it a plain default, and pass the value when you create the Kubeflow run",
                )
        constrained = [n for n, io in spec.parameters.items() if io.constraints is not None]
        if constrained:
            self.findings.note(
                "Kubeflow does not check the constraints of parameter(s) "
                + ", ".join(constrained)
                + " (they are in the parameters' descriptions)"
            )
        if spec.max_active_runs is not None and spec.schedule is None:
            self.findings.note(
                f"max_active_runs={spec.max_active_runs}: Kubeflow limits concurrent runs "
                "only for recurring runs (create_recurring_run(max_concurrency=...))"
            )
        if spec.tags or spec.owner:
            what = []
            if spec.tags:
                what.append("tags " + ", ".join(spec.tags))
            if spec.owner:
                what.append(f"owner {spec.owner}")
            self.findings.note(
                f"{' and '.join(what)}: Kubeflow pipelines have no such fields (kept in this "
                "header only)"
            )

    def _schedule(self) -> dict[str, Any] | None:
        """The recurring run that reproduces the schedule, and a note about it."""
        spec, s = self.spec, self.spec.schedule
        if s is None:
            return None
        if s.kind == "assets":
            self.findings.problem(
                f"runs when assets {s.describe()} are updated, and Kubeflow has no assets",
                self._where(),
                "schedule it on a cron or an interval for the Kubeflow build, or trigger "
                "runs from the system that updates the data",
            )
            return None
        if s.kind == "once":
            self.findings.note(
                "schedule 'once': create one run with "
                "kfp.Client().create_run_from_pipeline_package(...)"
            )
            return None
        args: dict[str, Any] = {}
        if s.kind == "cron":
            assert s.cron is not None
            args["cron_expression"] = kubeflow_cron(s.cron)
        else:
            assert s.interval_seconds is not None
            args["interval_second"] = max(1, round(s.interval_seconds))
        if spec.start_date is not None:
            args["start_time"] = spec.start_date.isoformat()
        if spec.end_date is not None:
            args["end_time"] = spec.end_date.isoformat()
        args["no_catchup"] = not spec.catchup
        if spec.max_active_runs is not None:
            args["max_concurrency"] = spec.max_active_runs
        shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
        note = (
            f"schedule {s.describe()}: the IR has no schedule; create a recurring run with "
            f"kfp.Client().create_recurring_run(experiment_id=..., job_name=..., "
            f"pipeline_package_path=..., {shown})"
        )
        if s.kind == "cron" and s.timezone != "UTC":
            note += f"; Headwater reads the cron in {s.timezone}, Kubeflow in UTC"
        self.findings.note(note)
        return args

    def _header(self) -> str:
        spec = self.spec
        lines = ["PIPELINE DEFINITION", f"Name: {spec.name}"]
        if spec.description:
            lines.append(f"Description: {spec.description}")
        if spec.parameters:
            lines.append("Inputs:")
            for name, io in sorted(spec.parameters.items()):
                default = f" [Default: {io.default!r}]" if io.has_default else ""
                lines.append(f"   {name}: {_shown_type(io)}{default}")
        if spec.root.outputs:
            lines.append("Outputs:")
            for name, io in sorted(spec.root.outputs.items()):
                lines.append(f"   {output_key(spec.root, name)}: {_shown_type(io)}")
        lines.append(f"Compiled by Headwater {__version__} (headwater compile --format kfp)")
        if self.findings.notes:
            lines.append("Notes:")
            lines.extend(f"   - {n}" for n in self.findings.notes)
        return "".join(f"# {line}".rstrip() + "\n" for line in lines)

    # ------------------------------------------------------------------ DAGs

    def _build_dag(self, comp: ComponentSpec, ir: dict[str, Any]) -> None:
        builder = DagBuilder(
            comp,
            ir,
            pipeline=self.spec.name,
            findings=self.findings,
            components=self.spec.components,
            new_key=self.new_key,
            add_component=self.add_component,
            task_ir=self._task_ir,
            rule_of=lambda task: self._options(task).trigger_rule,
        )
        builder.build()

    def _options(self, task: TaskSpec) -> TaskOptions:
        comp = self.spec.components[task.component]
        return self.spec.task_defaults.overlay(comp.options).overlay(task.options)

    def _task_ir(self, task: TaskSpec, scope: Scope, dag: DagBuilder) -> dict[str, Any]:
        comp = self.spec.components[task.component]
        impl = comp.implementation
        where = dag.index.where_of(task)
        self._refuse_setup_teardown(task, where)
        if isinstance(impl, DagImplementation):
            return self._dag_task(task, comp, where)
        if isinstance(impl, ImporterImplementation):
            return self._importer_task(task, comp, impl, where)
        if isinstance(impl, TuneImplementation):
            self.findings.problem(
                f"is a tune step (a study over pipeline '{impl.pipeline.name}'), which "
                "Kubeflow Pipelines cannot run: a Kubeflow task cannot start runs",
                where,
                "tune on Headwater (headwater tune, or run this pipeline here), or compile "
                f"pipeline '{impl.pipeline.name}' and tune it with Katib",
            )
            return {"componentRef": {"name": ""}, "taskInfo": {"name": task.name}}
        if isinstance(impl, TriggerImplementation) or (
            isinstance(impl, PythonImplementation) and impl.sensor
        ):
            what = (
                f"a built-in wait ({impl.check})"
                if isinstance(impl, TriggerImplementation)
                else "an @sensor"
            )
            self.findings.problem(
                f"is a sensor ({what}), which waits deferred between checks on Headwater; "
                "Kubeflow Pipelines has no deferred state (a sensor would hold a pod while "
                "it waits)",
                where,
                "run the wait on Headwater and trigger the Kubeflow run after it, or make it "
                "a plain @component that polls until its condition holds",
            )
            return {"componentRef": {"name": ""}, "taskInfo": {"name": task.name}}
        assert isinstance(impl, PythonImplementation)
        return self._python_task(task, comp, impl, where)

    def _dag_task(self, task: TaskSpec, comp: ComponentSpec, where: Location) -> dict[str, Any]:
        extra = task.options.model_fields_set - _CONTROL_OPTIONS
        if extra:
            self.findings.problem(
                f"runs pipeline '{comp.name}' as a step and sets {_keywords(extra)}, which a "
                "step runs nothing to honour",
                where,
                "set those options on the tasks inside that pipeline",
            )
        key = self._dag_keys.get(task.component)
        if key is None:
            key = self._dag_keys[task.component] = self.new_key(f"comp-{k8s_name(comp.name)}")
            ir = new_dag_component()
            _definitions(ir, comp)
            self.components[key] = ir
            self._build_dag(comp, ir)
        display = task.options.display_name or task.name
        out: dict[str, Any] = {"componentRef": {"name": key}, "taskInfo": {"name": display}}
        out["cachingOptions"] = {"enableCache": True} if self.spec.cache_enabled else {}
        return out

    def _importer_task(
        self, task: TaskSpec, comp: ComponentSpec, impl: ImporterImplementation, where: Location
    ) -> dict[str, Any]:
        extra = task.options.model_fields_set - _CONTROL_OPTIONS
        if extra:
            self.findings.problem(
                f"imports a URI and sets {_keywords(extra)}, which an importer has no "
                "process to honour",
                where,
                "drop those options from the importer task",
            )
        uri = task.inputs.get("uri")
        executor: dict[str, Any] = {
            "importer": {
                "artifactUri": (
                    {"constant": uri.value}
                    if uri is not None and uri.kind == "constant"
                    else {"runtimeParameter": "uri"}
                ),
                "typeSchema": artifact_type(impl.artifact_type),
            }
        }
        if impl.metadata:
            executor["importer"]["metadata"] = dict(impl.metadata)
        if impl.reimport:
            executor["importer"]["reimport"] = True
        key = self._component_variant(comp, executor)
        display = task.options.display_name or task.name
        return {
            "cachingOptions": {"enableCache": True} if self.spec.cache_enabled else {},
            "componentRef": {"name": key},
            "taskInfo": {"name": display},
        }

    def _component_variant(self, comp: ComponentSpec, executor: dict[str, Any]) -> str:
        """The IR component (and executor) of ``comp`` run as ``executor``; tasks whose
        executors are equal share them."""
        import json

        fingerprint = json.dumps([comp.name, executor], sort_keys=True)
        found = self._variants.get(fingerprint)
        if found is not None:
            return found[0]
        key = self.new_key(f"comp-{k8s_name(comp.name)}")
        label = "exec-" + key[len("comp-") :]
        ir: dict[str, Any] = {"executorLabel": label}
        _definitions(ir, comp)
        self.components[key] = ir
        self.executors[label] = executor
        self._variants[fingerprint] = (key, label)
        return key

    # ------------------------------------------------------------------ Python tasks

    def _python_task(
        self, task: TaskSpec, comp: ComponentSpec, impl: PythonImplementation, where: Location
    ) -> dict[str, Any]:
        opts = self._options(task)
        self._refuse_options(task, opts, where)
        for name, io in comp.inputs.items():
            if io.kind == "parameter" and io.type is not None and io.type.kind == "any":
                self.findings.problem(
                    f"component '{comp.name}' takes '{name}' typed Any, and Kubeflow passes "
                    "only values of a declared type",
                    where,
                    "annotate it int, float, str, bool, list or dict",
                )
        for name, io in comp.outputs.items():
            if io.kind == "parameter" and io.type is not None and io.type.kind == "any":
                self.findings.problem(
                    f"component '{comp.name}' returns '{name}' typed Any, and Kubeflow passes "
                    "only values of a declared type",
                    where,
                    "annotate the return value int, float, str, bool, list or dict",
                )
        source = self._module(comp, impl, opts, where)
        container: dict[str, Any] = {
            "image": opts.image or self.base_image,
            "command": command(opts.packages or [], source, opts.timeout_seconds),
            "args": ["--executor_input", "{{$}}", "--function_to_execute", impl.function],
        }
        if opts.env:
            container["env"] = [{"name": k, "value": v} for k, v in opts.env.items()]
        limits = resources(opts)
        if limits:
            container["resources"] = limits
        key = self._component_variant(comp, {"container": container})
        out: dict[str, Any] = {
            "componentRef": {"name": key},
            "taskInfo": {"name": opts.display_name or task.name},
        }
        cache = opts.cache
        enabled = self.spec.cache_enabled and (cache is None or cache.enabled)
        if enabled and cache is not None and cache.ttl_seconds is not None:
            enabled = False
            self._ttl.append(task.name)
        out["cachingOptions"] = {"enableCache": True} if enabled else {}
        retry = opts.retry
        if retry is not None and retry.max_retries > 0:
            policy: dict[str, Any] = {
                "maxRetryCount": retry.max_retries,
                "backoffDuration": duration(retry.delay_seconds),
                "backoffFactor": retry.backoff_factor,
            }
            if retry.max_delay_seconds is not None:
                policy["backoffMaxDuration"] = duration(retry.max_delay_seconds)
            out["retryPolicy"] = policy
        return out

    def _refuse_setup_teardown(self, task: TaskSpec, where: Location) -> None:
        """Kubeflow has no setup or teardown tasks: say so rather than run a teardown as
        plain work (it would not run after a failure, and its failure would fail the run)."""
        opts = self._options(task)
        role = "setup" if opts.setup else "teardown" if opts.teardown else None
        if role is None:
            return
        self.findings.problem(
            f"is a {role} task ({role}=True), and Kubeflow Pipelines has no setup or "
            "teardown tasks",
            where,
            "for the Kubeflow build, put the work in 'with ExitHandler(cleanup_task):' (the "
            "exit task runs however the work ends) and drop setup/teardown",
        )

    def _refuse_options(self, task: TaskSpec, opts: TaskOptions, where: Location) -> None:
        problem = self.findings.problem
        if opts.pool is not None or opts.pool_slots is not None:
            problem(
                f"takes slots of pool '{opts.pool}', and Kubeflow has no pools",
                where,
                "drop the pool for the Kubeflow build; bound fan-out with "
                "ParallelFor(..., parallelism=N)",
            )
        if opts.priority is not None:
            problem(
                f"has priority {opts.priority}, and Kubeflow has no task priorities",
                where,
                "drop priority=... for the Kubeflow build",
            )
        if opts.assets:
            problem(
                f"updates asset(s) {', '.join(sorted(opts.assets.values()))}, and "
                "Kubeflow has no assets",
                where,
                "drop assets=... / updates_asset(...) for the Kubeflow build",
            )
        if opts.register_models:
            problem(
                f"registers model(s) {', '.join(sorted(opts.register_models.values()))} "
                "in Headwater's registry, which Kubeflow does not have",
                where,
                "drop register=... for the Kubeflow build",
            )
        if opts.notifications:
            problem(
                "sends notifications, which Kubeflow tasks cannot",
                where,
                "drop notify=... for the Kubeflow build, or notify from an ExitHandler task",
            )
        res = opts.resources
        if res is not None and res.custom:
            problem(
                f"asks for custom resources {', '.join(sorted(res.custom))}, which "
                "Kubeflow's IR cannot express",
                where,
                "drop resources=...; Kubernetes extended resources need a platform spec",
            )
        if res is not None and res.accelerator is not None and "/" not in res.accelerator:
            problem(
                f"asks for accelerator '{res.accelerator}'; Kubeflow's accelerator "
                "type is a Kubernetes resource name such as nvidia.com/gpu",
                where,
                "use accelerator='nvidia.com/gpu' (or your cluster's resource name); "
                "pinning a GPU model needs a node selector, which this build does not write",
            )

    def _module(
        self, comp: ComponentSpec, impl: PythonImplementation, opts: TaskOptions, where: Location
    ) -> str:
        key = (comp.name, opts.image, tuple(opts.packages or []))
        found = self._modules.get(key)
        if found is not None:
            return found
        try:
            obj = load_function(impl, self.root)
        except Exception as exc:  # the user's module failed to import: say so as a problem
            self.findings.problem(
                f"component '{comp.name}' cannot be loaded from {impl.file}: "
                f"{type(exc).__name__}: {exc}",
                where,
                f"compile from the pipeline's folder, or pass root= the folder {impl.file} is in",
            )
            return ""
        func = getattr(obj, "python_func", obj)
        digest = getattr(obj, "code_digest", None)
        if callable(digest) and digest() != impl.code_digest:
            self.findings.problem(
                f"component '{comp.name}': its code changed since the spec was compiled",
                where,
                "compile the pipeline again from its file",
            )
            return ""
        bases = {title: _kfp_base(info.bases) for title, info in self.spec.artifact_types.items()}
        text = ComponentModule(
            func,
            comp,
            impl,
            pipeline=self.spec.name,
            where=where,
            findings=self.findings,
            root=self.root,
            packages=list(opts.packages or []),
            image=opts.image,
            artifact_bases=bases,
        ).build()
        self._modules[key] = text
        return text


# --------------------------------------------------------------------------- helpers


def _definitions(ir: dict[str, Any], comp: ComponentSpec) -> None:
    """The IR input and output definitions of ``comp``."""
    for name, io in comp.inputs.items():
        definition = io_definition(io)
        if io.kind == "final_status":
            definition["isOptional"] = True
        elif io.has_default:
            definition["isOptional"] = True
            if io.kind == "parameter" and io.default is not None:
                definition["defaultValue"] = io.default
        if io.kind == "parameter":
            description = _description(io)
            if description:
                definition["description"] = description
        kind = "artifacts" if io.kind == "artifact" else "parameters"
        ir.setdefault("inputDefinitions", {}).setdefault(kind, {})[name] = definition
    if isinstance(comp.implementation, DagImplementation):
        return  # a DAG's outputs are declared with their sources
    for name, io in comp.outputs.items():
        kind = "artifacts" if io.kind == "artifact" else "parameters"
        ir.setdefault("outputDefinitions", {}).setdefault(kind, {})[output_key(comp, name)] = (
            io_definition(io)
        )


_KEYWORDS = {"retry": "retries", "timeout_seconds": "timeout", "notifications": "notify"}


def _keywords(fields: set[str]) -> str:
    """Option fields of the spec as the keywords a user writes (``retry`` is ``retries``)."""
    return ", ".join(sorted(_KEYWORDS.get(f, f) for f in fields))


def _shown_type(io: IOSpec) -> str:
    """A value's IR type, for the header: ``NUMBER_INTEGER``, ``system.Dataset``, ..."""
    definition = io_definition(io)
    if "artifactType" in definition:
        title = str(definition["artifactType"]["schemaTitle"])
        return f"list[{title}]" if definition.get("isArtifactList") else title
    return str(definition["parameterType"])


def _description(io: IOSpec) -> str | None:
    """A parameter's description, with the constraints Headwater checks and Kubeflow does not."""
    parts = [io.description] if io.description else []
    c = io.constraints
    if c is not None:
        checks = [
            f"{k.replace('_', ' ')} {v!r}" for k, v in c.model_dump(exclude_none=True).items()
        ]
        parts.append("(Headwater checks: " + ", ".join(checks) + ")")
    return " ".join(parts) or None


def _kfp_base(bases: list[str]) -> str:
    """The Kubeflow class a user's artifact type derives from: its nearest Headwater base."""
    from headwater.interop._kfp_code import KFP_ARTIFACTS

    for base in bases:
        if base.startswith("headwater.") and base[10:] in KFP_ARTIFACTS:
            return base[10:]
    return "Artifact"


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    return False


__all__ = ["DEFAULT_BASE_IMAGE", "KFP_RUNTIME", "KfpPackage", "kubeflow_cron", "to_kfp"]
