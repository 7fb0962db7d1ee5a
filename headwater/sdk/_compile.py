"""Turning an authoring graph into a validated :class:`~headwater.spec.PipelineSpec`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

from headwater._config import max_map_length
from headwater.errors import PipelineDefinitionError
from headwater.sdk import _cells, _graph, _location
from headwater.sdk._artifacts import Artifact, artifact_lineage
from headwater.sdk._component import Component, Importer
from headwater.sdk._interface import Interface, pipeline_inputs
from headwater.sdk._location import Src
from headwater.sdk._options import merge
from headwater.sdk._sensors import BuiltinSensor, SensorComponent
from headwater.sdk._template import Template
from headwater.sdk._tune import TuneStep
from headwater.spec import (
    SCHEMA_VERSION,
    ArtifactTypeInfo,
    Binding,
    CollectedBinding,
    CombinedItems,
    Comparison,
    ComponentSpec,
    Condition,
    ConditionBranch,
    ConditionGroup,
    ConstantBinding,
    DagImplementation,
    DagSpec,
    ExitHandlerGroup,
    FinalStatusBinding,
    ImporterImplementation,
    IOSpec,
    ItemShape,
    Logical,
    LoopGroup,
    LoopItemBinding,
    NamedList,
    Node,
    ParamType,
    PipelineInputBinding,
    PipelineSpec,
    PythonImplementation,
    SensorPolicy,
    SourceLocation,
    TaskOptions,
    TaskOutputBinding,
    TaskSpec,
    TemplateBinding,
    TriggerImplementation,
    TuneImplementation,
    validate,
)


class Compilable(Protocol):
    """What compiling needs of a ``@pipeline``. :class:`~headwater.sdk.Pipeline` calls
    the compiler (lazily: it loads the spec models), so the compiler knows a pipeline by
    these members, not by its class."""

    python_func: Callable[..., Any]
    src: Src | None
    description: str | None
    metadata: dict[str, Any]

    @property
    def name(self) -> str: ...

    def graph(self) -> tuple[_graph.DagBuilder, dict[str, Any]]: ...

    def interface(self) -> Interface: ...


def _source(src: Src | None) -> SourceLocation | None:
    return SourceLocation(file=src.relative(), line=src.line) if src else None


def pipeline_interface(p: Compilable) -> Interface:
    """Inputs from the signature; outputs from what the pipeline function returns."""
    inputs, classes = pipeline_inputs(p.python_func, p.name, p.src)
    _, outputs = p.graph()
    out_specs: dict[str, IOSpec] = {}
    for name, channel in outputs.items():
        out_specs[name] = _channel_io(channel)
        if out_specs[name].kind == "artifact":
            classes |= _channel_classes(channel)
    return Interface(inputs=inputs, outputs=out_specs, artifact_classes=classes)


def _channel_io(channel: Any) -> IOSpec:
    if isinstance(channel, _graph.Collected):
        io = channel.source.task.iface.outputs[channel.source.name]
        if io.kind == "artifact":
            return io.model_copy(update={"is_list": True})
        assert io.type is not None
        return IOSpec(kind="parameter", type=ParamType(kind="list", items=io.type))
    assert isinstance(channel, _graph.TaskOutput)
    return channel.task.iface.outputs[channel.name]


def _channel_classes(channel: Any) -> set[type[Artifact]]:
    task = channel.source.task if isinstance(channel, _graph.Collected) else channel.task
    return set(task.iface.artifact_classes)


class _Compiler:
    def __init__(self, root: Compilable) -> None:
        self.root = root
        self.components: dict[str, ComponentSpec] = {}
        self.keys: dict[int, str] = {}
        self.callees: list[Any] = []
        self.artifact_classes: set[type[Artifact]] = set()

    # ------------------------------------------------------------------ components

    def key_for(self, callee: Any) -> str:
        key = self.keys.get(id(callee))
        if key is not None:
            return key
        base, n = callee.name, 1
        key = base
        while key in self.components:
            n += 1
            key = f"{base}-{n}"
        self.keys[id(callee)] = key
        self.callees.append(callee)  # keep alive so ids stay unique
        self.components[key] = self.component_spec(callee)
        return key

    def component_spec(self, callee: Any) -> ComponentSpec:
        iface: Interface = callee.interface()
        self.artifact_classes |= iface.artifact_classes
        if isinstance(callee, Component):
            func = callee.python_func
            module = func.__module__
            file = getattr(func, "__code__", None)
            filename = file.co_filename if file else ""
            source = None
            if _cells.in_cell(func):
                # A notebook cell is no file a task process can import: its code travels
                # in the spec (see headwater/sdk/_cells.py).
                module, source = _cells.capture(callee)
                filename = ""
            elif module == "__main__":
                module = os.path.splitext(os.path.basename(filename))[0]
            impl: Any = PythonImplementation(
                type="python",
                module=module,
                function=func.__qualname__,
                file=Src(filename, 0).relative() if filename else "",
                code_digest=callee.code_digest(),
                returns=iface.returns,
                return_outputs=list(iface.return_outputs),
                source=source,
                sensor=isinstance(callee, SensorComponent),
            )
            options = TaskOptions.model_validate(callee.options)
            if impl.sensor and options.sensor is None:
                options = options.model_copy(update={"sensor": SensorPolicy()})
            return ComponentSpec(
                name=callee.name,
                description=callee.description,
                inputs=iface.inputs,
                outputs=iface.outputs,
                implementation=impl,
                options=options,
                source=_source(callee.src),
            )
        if isinstance(callee, BuiltinSensor):
            return ComponentSpec(
                name=callee.name,
                description=f"waits ({callee.check}); the engine checks it",
                inputs=iface.inputs,
                outputs=iface.outputs,
                implementation=TriggerImplementation(type="trigger", check=callee.check),
                options=TaskOptions(sensor=SensorPolicy()),
            )
        if isinstance(callee, Importer):
            return ComponentSpec(
                name="importer",
                inputs=iface.inputs,
                outputs=iface.outputs,
                implementation=ImporterImplementation(
                    type="importer",
                    artifact_type=callee.artifact_class.schema_title,
                    metadata=callee.metadata,
                    reimport=callee.reimport,
                ),
            )
        if isinstance(callee, TuneStep):
            return ComponentSpec(
                name=callee.name,
                description=f"tunes pipeline '{callee.pipeline.name}'",
                inputs=iface.inputs,
                outputs=iface.outputs,
                implementation=TuneImplementation(
                    type="tune",
                    pipeline=compile_pipeline(callee.pipeline),
                    space=callee.space,
                    **callee.settings,
                ),
                source=_source(callee.src),
            )
        # The only other callee that makes tasks is a pipeline used as a step.
        defaults = callee.metadata.get("task_defaults") or {}
        if defaults:
            words = {"retry": "retries", "timeout_seconds": "timeout", "notifications": "notify"}
            names = ", ".join(sorted(words.get(k, k) for k in defaults))
            # Its tasks get the options of the pipeline that runs, not its own.
            raise PipelineDefinitionError(
                f"pipeline '{callee.name}' sets task_defaults ({names}), "
                f"which do not reach its tasks when it runs as a step of pipeline "
                f"'{self.root.name}'",
                location=_location.loc(callee.src, callee.name),
                hint="set those options on its components or tasks, or in the task_defaults "
                f"of pipeline '{self.root.name}' (they reach every task of the run)",
            )
        return self.dag_component(callee, iface)

    def dag_component(self, p: Compilable, iface: Interface) -> ComponentSpec:
        builder, outputs = p.graph()
        dag = DagSpec(nodes=[self.node(n, builder) for n in builder.nodes])
        out_bindings: dict[str, Any] = {}
        for name, channel in outputs.items():
            b = self.binding(channel, builder, f"pipeline output '{name}'", p.src)
            assert isinstance(b, TaskOutputBinding | CollectedBinding)
            out_bindings[name] = b
        return ComponentSpec(
            name=p.name,
            description=p.description,
            inputs=iface.inputs,
            outputs=iface.outputs,
            implementation=DagImplementation(type="dag", dag=dag, outputs=out_bindings),
            source=_source(p.src),
        )

    # ------------------------------------------------------------------ graph

    def node(self, node: _graph.Node, builder: _graph.DagBuilder) -> Node:
        after = [d.name for d in node.deps]
        if isinstance(node, _graph.Task):
            return self.task(node, builder)
        if isinstance(node, _graph.ConditionChain):
            branches = [
                ConditionBranch(
                    condition=self.condition(b.cond, builder) if b.cond is not None else None,
                    nodes=[self.node(n, builder) for n in b.nodes],
                    source=_source(b.src),
                )
                for b in node.branches
            ]
            return ConditionGroup(
                kind="condition",
                name=node.name,
                branches=branches,
                after=after,
                source=_source(node.src),
            )
        if isinstance(node, _graph.LoopGroup):
            self.check_literal_count(node, builder)
            shape = None
            if node.shape is not None:
                shape = ItemShape(required=node.shape[0], optional=node.shape[1])
            return LoopGroup(
                kind="loop",
                name=node.name,
                items=self.loop_items(node, builder),
                parallelism=node.parallelism,
                max_items=node.max_items,
                item_shape=shape,
                mapped=node.mapped,
                nodes=[self.node(n, builder) for n in node.nodes],
                after=after,
                source=_source(node.src),
            )
        assert isinstance(node, _graph.ExitGroup)
        return ExitHandlerGroup(
            kind="exit_handler",
            name=node.name,
            exit_task=self.task(node.exit_task, builder),
            nodes=[self.node(n, builder) for n in node.nodes],
            after=after,
            source=_source(node.src),
        )

    def loop_items(self, loop: _graph.LoopGroup, builder: _graph.DagBuilder) -> Any:
        items = loop.items
        if not isinstance(items, _graph.Combined):
            return self.binding(items, builder, "ParallelFor items", loop.src)
        lists = [
            NamedList(name=name, items=self.binding(value, builder, f"list '{name}'", loop.src))
            for name, value in items.lists.items()
        ]
        fill = ConstantBinding(kind="constant", value=items.fill) if items.has_fill else None
        kind = "cross" if items.kind == "product" else "zip"
        return CombinedItems(kind=kind, lists=lists, fill=fill)

    def check_literal_count(self, loop: _graph.LoopGroup, builder: _graph.DagBuilder) -> None:
        """Refuse literal lists that make more items than the loop may have."""
        count = loop.literal_count()
        cap = loop.max_items or max_map_length()
        if count is None or count <= cap:
            return
        if loop.mapped:
            task = loop.nodes[0].name
            what = f"mapped task '{task}'"
        else:
            task, what = loop.name, f"ParallelFor '{loop.name}'"
        setting = (
            f"its max_items={loop.max_items}"
            if loop.max_items
            else f"HEADWATER_MAX_MAP_LENGTH={cap}"
        )
        how = ".set_max_items(n) on the mapped task" if loop.mapped else "max_items=n"
        raise PipelineDefinitionError(
            f"{what} has {count} literal items, over the cap of {cap} ({setting})",
            location=_location.loc(loop.src, builder.pipeline_name, task),
            hint=f"raise the cap with {how} or HEADWATER_MAX_MAP_LENGTH, or map over fewer items",
        )

    def task(self, task: _graph.Task, builder: _graph.DagBuilder) -> TaskSpec:
        key = self.key_for(task.callee)
        inputs: dict[str, Binding] = {}
        for name, value in task.args.items():
            inputs[name] = self.binding(value, builder, f"input '{name}'", task.src, task.name)
        for name, io in task.iface.inputs.items():
            if io.kind == "final_status":
                inputs[name] = FinalStatusBinding(kind="final_status")
        overrides = task.overrides
        if overrides:
            # A task that sets part of a policy keeps the component's other settings.
            base = {k: v for k, v in task.callee.options.items() if k in overrides}
            overrides = merge(base, overrides)
        return TaskSpec(
            kind="task",
            name=task.name,
            component=key,
            inputs=inputs,
            after=[d.name for d in task.deps],
            options=TaskOptions.model_validate(overrides),
            source=_source(task.src),
        )

    def binding(
        self,
        value: Any,
        builder: _graph.DagBuilder,
        what: str,
        src: Src | None,
        task: str | None = None,
    ) -> Binding:
        if isinstance(value, _graph._Const):
            return ConstantBinding(kind="constant", value=value.value)
        if isinstance(value, Template):
            return TemplateBinding(kind="template", template=value.text)
        if isinstance(value, _graph.PipelineInput):
            if value.builder is not builder:
                raise self.foreign(what, value.describe(), src, task)
            return PipelineInputBinding(kind="pipeline_input", name=value.name)
        if isinstance(value, _graph.TaskOutput):
            if value.task.builder is not builder:
                raise self.foreign(what, value.describe(), src, task)
            return TaskOutputBinding(kind="task_output", task=value.task.name, output=value.name)
        if isinstance(value, _graph.Collected):
            if value.source.task.builder is not builder:
                raise self.foreign(what, value.describe(), src, task)
            return CollectedBinding(
                kind="collected", task=value.source.task.name, output=value.source.name
            )
        if isinstance(value, _graph.LoopItem):
            if value._loop.builder is not builder:
                raise self.foreign(what, value.describe(), src, task)
            return LoopItemBinding(kind="loop_item", loop=value._loop.name, key=value._key)
        return ConstantBinding(
            kind="constant", value=_graph.to_json_constant(value, what, src, task)
        )

    def foreign(
        self, what: str, desc: str, src: Src | None, task: str | None
    ) -> PipelineDefinitionError:
        return PipelineDefinitionError(
            f"{what} uses {desc}, which belongs to another pipeline",
            location=_location.loc(src, self.root.name, task),
            hint="pass values into a nested pipeline through its parameters",
        )

    def condition(self, cond: _graph.Cond, builder: _graph.DagBuilder) -> Condition:
        if cond.op in ("and", "or", "not"):
            return Logical(
                kind="logical",
                op=cond.op,
                operands=[self.condition(c, builder) for c in cond.args],
            )
        left, right = cond.args
        sides = []
        for side in (left, right):
            if isinstance(side, _graph.Cond | _graph.Collected):
                raise PipelineDefinitionError(
                    f"a comparison cannot take {type(side).__name__} as an operand",
                    location=_location.loc(cond.src, builder.pipeline_name),
                    hint="compare a task output or parameter with a value; combine "
                    "comparisons with &, | and ~",
                )
            sides.append(self.binding(side, builder, "condition", cond.src))
        return Comparison(
            kind="compare",
            op=cond.op,
            left=sides[0],
            right=sides[1],
        )

    # ------------------------------------------------------------------ artifact types

    def artifact_types(self) -> dict[str, ArtifactTypeInfo]:
        out: dict[str, ArtifactTypeInfo] = {}
        for cls in sorted(self.artifact_classes, key=lambda c: c.schema_title):
            for c in artifact_lineage(cls):
                if c.schema_title in out:
                    continue
                out[c.schema_title] = ArtifactTypeInfo(
                    schema_title=c.schema_title,
                    bases=[b.schema_title for b in artifact_lineage(c)[1:]],
                    description=c.__dict__.get("description"),
                )
        return dict(sorted(out.items()))


def compile_pipeline(p: Compilable) -> PipelineSpec:
    """Build, convert and validate the spec of ``p``."""
    compiler = _Compiler(p)
    iface = p.interface()
    root = compiler.dag_component(p, iface)
    compiler.artifact_classes |= iface.artifact_classes
    meta = p.metadata
    spec = PipelineSpec.model_validate(
        {
            "schema_version": SCHEMA_VERSION,
            "name": p.name,
            "description": p.description,
            "root": root,
            "components": dict(sorted(compiler.components.items())),
            "artifact_types": compiler.artifact_types(),
            "source": _source(p.src),
            **meta,
        }
    )
    return validate(spec)
