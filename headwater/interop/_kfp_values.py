"""Where each node of a Headwater DAG sits in the IR, and how a value reaches a task.

A value is made in one IR DAG (a task's output in the DAG of that task, a pipeline input
in the pipeline's own, a loop item in the loop's) and used in another. Used inside a group
that it is made outside of, it is passed in as an input of every group DAG in between,
named ``pipelinechannel--...`` as kfp names them; made inside an ExitHandler body and used
outside, it is passed out as an output of the body's DAG. ``Collected(...)`` is an output
of the loop's DAG, a list, beside the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from headwater.errors import Location
from headwater.interop._kfp_ir import (
    Findings,
    Scope,
    User,
    add_definition,
    describe,
    io_definition,
    k8s_name,
    output_key,
    selector,
    set_input,
)
from headwater.spec import (
    CollectedBinding,
    ComponentSpec,
    DagImplementation,
    IOSpec,
    LoopItemBinding,
    Node,
    ParamType,
    PipelineInputBinding,
    TaskOutputBinding,
    TaskSpec,
)


@dataclass(frozen=True)
class Ref:
    """A value a binding names: a pipeline input, a task's output, every iteration's value
    of an output (``Collected``), or a loop's item."""

    kind: Literal["input", "output", "collected", "item"]
    name: str  # the input, task or loop
    output: str = ""

    def describe(self) -> str:
        if self.kind == "input":
            return f"parameter '{self.name}'"
        if self.kind == "item":
            return f"the item of ParallelFor '{self.name}'"
        what = "Collected(" if self.kind == "collected" else ""
        return f"{what}output '{self.output}' of task '{self.name}'{')' if what else ''}"


class DagIndex:
    """The IR places of one Headwater DAG's nodes (filled while the DAG is laid out), and
    the bindings that bring values to tasks."""

    def __init__(
        self,
        comp: ComponentSpec,
        root: Scope,
        findings: Findings,
        components: dict[str, ComponentSpec],
    ) -> None:
        impl = comp.implementation
        assert isinstance(impl, DagImplementation)
        self.spec = comp
        self.findings = findings
        self.components = components
        self.root = root
        self.where: dict[str, Scope] = {}
        self.nodes: dict[str, Node | TaskSpec] = {}
        self.names: dict[str, str] = {}
        self.loops: dict[str, Scope] = {}
        self.group_scopes: dict[str, list[Scope]] = {}
        self._taken: set[str] = set()

    def ir_name(self, name: str) -> str:
        """The IR task name of the Headwater node ``name``, unique in this DAG."""
        found = self.names.get(name)
        if found is None:
            base = found = k8s_name(name)
            n = 1
            while found in self._taken:
                n += 1
                found = f"{base}-{n}"
            self._taken.add(found)
            self.names[name] = found
        return found

    def where_of(self, node: User) -> Location:
        task = node.name if isinstance(node, TaskSpec) else None
        src = node.source
        return Location(
            pipeline=self.spec.name,
            task=task,
            file=src.file if src else None,
            line=src.line if src else None,
        )

    def problem(self, node: User, message: str, hint: str) -> None:
        # A task is named by the problem's location; a group or an output by the message.
        prefix = describe(node)
        text = f"{prefix} {message}" if prefix else message
        self.findings.problem(text, self.where_of(node), hint)

    # ------------------------------------------------------------------ values

    def ref(self, binding: Any) -> Ref:
        if isinstance(binding, PipelineInputBinding):
            return Ref("input", binding.name)
        if isinstance(binding, TaskOutputBinding):
            return Ref("output", binding.task, binding.output)
        if isinstance(binding, CollectedBinding):
            return Ref("collected", binding.task, binding.output)
        assert isinstance(binding, LoopItemBinding)
        return Ref("item", binding.loop)

    def ref_io(self, ref: Ref) -> IOSpec | None:
        """What flows: the input's, the output's (a list of them for collected) spec."""
        if ref.kind == "input":
            return self.spec.inputs.get(ref.name)
        if ref.kind == "item":
            return None
        node = self.nodes.get(ref.name)
        if not isinstance(node, TaskSpec):
            return None
        comp = self.components[node.component]
        io = comp.outputs.get(ref.output)
        if io is None or ref.kind == "output":
            return io
        if io.kind == "artifact":
            return io.model_copy(update={"is_list": True})
        assert io.type is not None
        return IOSpec(kind="parameter", type=ParamType(kind="list", items=io.type))

    def _out_key(self, task: str, output: str) -> str:
        node = self.nodes[task]
        assert isinstance(node, TaskSpec)
        return output_key(self.components[node.component], output)

    def _channel(self, ref: Ref) -> str:
        if ref.kind == "input":
            return f"pipelinechannel--{ref.name}"
        if ref.kind == "item":
            item = self.loops[ref.name].item_input
            assert item is not None
            return item
        # kfp writes pipelinechannel--TASK-OUTPUT; kfp.local reads a condition's channel as
        # TASK-Output or TASK--OUTPUT, so other outputs get the second form (task names
        # never hold "--").
        task, key = self.ir_name(ref.name), self._out_key(ref.name, ref.output)
        return (
            f"pipelinechannel--{task}-{key}"
            if key == "Output"
            else f"pipelinechannel--{task}--{key}"
        )

    def _definition(self, ref: Ref) -> dict[str, Any]:
        if ref.kind == "item":
            inner = self.loops[ref.name]
            assert inner.item_input is not None
            return dict(inner.comp["inputDefinitions"]["parameters"][inner.item_input])
        io = self.ref_io(ref)
        assert io is not None
        return io_definition(io)

    def _is_artifact(self, ref: Ref) -> bool:
        io = self.ref_io(ref)
        return io is not None and io.kind == "artifact"

    def _home(self, ref: Ref, user: User) -> Scope | None:
        """Where ``ref`` is a task's own output (or the pipeline's own input)."""
        if ref.kind == "input":
            return self.root
        if ref.kind == "item":
            return self.loops[ref.name]
        if ref.kind == "output":
            return self.where[ref.name]
        # Collected: the loop's DAG declares the list as its output, beside the loop.
        task_scope = self.where[ref.name]
        if task_scope.kind != "loop":
            self.problem(
                user,
                f"collects output '{ref.output}' of task '{ref.name}', which is not directly "
                "inside a ParallelFor",
                "collect outputs of tasks written directly in the ParallelFor block",
            )
            return None
        assert task_scope.parent is not None and task_scope.group is not None
        return task_scope.parent

    def _native(self, ref: Ref, home: Scope) -> dict[str, Any]:
        artifact = self._is_artifact(ref)
        if ref.kind == "input":
            key = "componentInputArtifact" if artifact else "componentInputParameter"
            return {key: ref.name}
        if ref.kind == "item":
            return {"componentInputParameter": self._channel(ref)}
        if ref.kind == "output":
            producer, out = self.ir_name(ref.name), self._out_key(ref.name, ref.output)
        else:
            loop = self.where[ref.name]
            producer, out = loop.task_name, self._channel(ref)
            inner = {"producerTask": self.ir_name(ref.name)}
            src = self._out_key(ref.name, ref.output)
            if artifact:
                binding = {"taskOutputArtifact": {**inner, "outputArtifactKey": src}}
            else:
                binding = {"taskOutputParameter": {**inner, "outputParameterKey": src}}
            loop.comp["dag"].setdefault("outputs", {}).setdefault(
                "artifacts" if artifact else "parameters", {}
            )[out] = selector(binding, artifact)
            add_definition(loop.comp, "outputDefinitions", out, self._definition(ref))
        if artifact:
            return {"taskOutputArtifact": {"producerTask": producer, "outputArtifactKey": out}}
        return {"taskOutputParameter": {"producerTask": producer, "outputParameterKey": out}}

    def value(self, ref: Ref, scope: Scope, user: User) -> dict[str, Any] | None:
        """How a task in ``scope`` refers to ``ref``: directly where it is made, through
        inputs of the group DAGs in between where it is made outside, through outputs of
        ExitHandler bodies where it is made inside one."""
        home = self._home(ref, user)
        if home is None:
            return None
        if home is scope:
            return self._native(ref, home)
        if not scope.contains(home):
            channel = self._channel(ref)
            artifact = self._is_artifact(ref)
            if channel not in scope.channels:
                assert scope.parent is not None and scope.task is not None
                outer = self.value(ref, scope.parent, user)
                if outer is None:
                    return None
                set_input(scope.task, channel, outer, artifact)
                add_definition(scope.comp, "inputDefinitions", channel, self._definition(ref))
                scope.channels.add(channel)
            key = "componentInputArtifact" if artifact else "componentInputParameter"
            return {key: channel}
        return self._surface(ref, home, scope, user)

    def _surface(self, ref: Ref, home: Scope, scope: Scope, user: User) -> dict[str, Any] | None:
        """``ref``, made in ``home`` inside ``scope``, passed out of each DAG in between."""
        artifact = self._is_artifact(ref)
        binding = self._native(ref, home)
        channel = self._channel(ref)
        level = home
        while level is not scope:
            if level.kind != "exit":
                assert level.group is not None
                kind = "If" if level.kind in ("branch", "branches") else "ParallelFor"
                hint = (
                    "use the value inside the If block, or compute it before the If"
                    if kind == "If"
                    else "use Collected(...) to read every iteration's value after the loop"
                )
                self.problem(
                    user,
                    f"uses {ref.describe()}, which is made inside {kind} '{level.group.name}'; "
                    "Kubeflow passes no value out of it",
                    hint,
                )
                return None
            outputs = level.comp["dag"].setdefault("outputs", {})
            outputs.setdefault("artifacts" if artifact else "parameters", {})[channel] = selector(
                binding, artifact
            )
            add_definition(level.comp, "outputDefinitions", channel, self._definition(ref))
            if artifact:
                binding = {
                    "taskOutputArtifact": {
                        "producerTask": level.task_name,
                        "outputArtifactKey": channel,
                    }
                }
            else:
                binding = {
                    "taskOutputParameter": {
                        "producerTask": level.task_name,
                        "outputParameterKey": channel,
                    }
                }
            assert level.parent is not None
            level = level.parent
        return binding
