"""The vocabulary of Kubeflow's pipeline IR that the compiler writes: names, types,
definitions, the DAG scopes that groups become, and CEL literals."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from headwater.errors import Location, Problem
from headwater.spec import (
    ComponentSpec,
    ConditionGroup,
    DagImplementation,
    ExitHandlerGroup,
    IOSpec,
    LoopGroup,
    Node,
    ParamType,
    PythonImplementation,
    SourceLocation,
    TaskSpec,
)

KFP_ARTIFACTS = (
    "Artifact",
    "Dataset",
    "Model",
    "Metrics",
    "ClassificationMetrics",
    "HTML",
    "Markdown",
)
"""Headwater's artifact types whose Kubeflow counterparts have the same name."""


@dataclass
class Findings:
    """What compiling found: problems (each makes the export fail) and notes (told to the
    user and written at the top of the package)."""

    pipeline: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(self, message: str, where: Location, hint: str) -> None:
        self.problems.append(Problem(message, where, hint, code="kubeflow"))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


ScopeKind = Literal["pipeline", "branches", "branch", "loop", "exit"]

_PARAMETER_TYPES = {
    "int": "NUMBER_INTEGER",
    "float": "NUMBER_DOUBLE",
    "str": "STRING",
    "bool": "BOOLEAN",
    "list": "LIST",
    "dict": "STRUCT",
}


def k8s_name(name: str) -> str:
    """A task or component name as kfp writes them: lowercase letters, digits and '-'."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return re.sub(r"-{2,}", "-", text) or "task"


def schema_title(artifact_type: str) -> str:
    """Headwater's ``headwater.Dataset`` is Kubeflow's ``system.Dataset``; a user's own
    types keep their title."""
    if artifact_type.startswith("headwater.") and artifact_type[10:] in KFP_ARTIFACTS:
        return "system." + artifact_type[10:]
    return artifact_type


def artifact_type(title: str) -> dict[str, Any]:
    return {"schemaTitle": schema_title(title), "schemaVersion": "0.0.1"}


def parameter_type(t: ParamType) -> str:
    return _PARAMETER_TYPES.get(t.kind, "STRING")


def io_definition(io: IOSpec, *, as_list: bool = False) -> dict[str, Any]:
    """The IR definition of a value of ``io`` (a list of them with ``as_list``)."""
    if io.kind == "final_status":
        return {"parameterType": "TASK_FINAL_STATUS"}
    if io.kind == "artifact":
        assert io.artifact_type is not None
        out: dict[str, Any] = {"artifactType": artifact_type(io.artifact_type)}
        if io.is_list or as_list:
            out["isArtifactList"] = True
        return out
    assert io.type is not None
    return {"parameterType": "LIST" if as_list else parameter_type(io.type)}


def output_key(comp: ComponentSpec, name: str) -> str:
    """The IR name of output ``name``. Headwater calls a component's single return value
    ``output``, and so the only output of a pipeline that returns one value; Kubeflow calls
    both ``Output`` (its executor writes a single return value under that name)."""
    if name != "output":
        return name
    impl = comp.implementation
    if isinstance(impl, PythonImplementation):
        return "Output" if impl.returns == "single" else name
    if isinstance(impl, DagImplementation) and list(comp.outputs) == ["output"]:
        return "Output"
    return name


def selector(binding: dict[str, Any], artifact: bool) -> dict[str, Any]:
    """A DAG output selecting what ``binding`` (a task output) refers to."""
    if artifact:
        src = binding["taskOutputArtifact"]
        return {
            "artifactSelectors": [
                {
                    "producerSubtask": src["producerTask"],
                    "outputArtifactKey": src["outputArtifactKey"],
                }
            ]
        }
    src = binding["taskOutputParameter"]
    return {
        "valueFromParameter": {
            "producerSubtask": src["producerTask"],
            "outputParameterKey": src["outputParameterKey"],
        }
    }


@dataclass(eq=False)
class Scope:
    """One IR DAG: the pipeline's own, or a group's, with the task that calls it."""

    kind: ScopeKind
    comp: dict[str, Any]
    parent: Scope | None = None
    task: dict[str, Any] | None = None
    task_name: str = ""
    group: Node | None = None
    item_input: str | None = None
    channels: set[str] = field(default_factory=set)

    @property
    def tasks(self) -> dict[str, Any]:
        tasks: dict[str, Any] = self.comp["dag"]["tasks"]
        return tasks

    def chain(self) -> Iterator[Scope]:
        scope: Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.parent

    def contains(self, other: Scope) -> bool:
        """Whether ``other`` is this scope or nested in it."""
        return any(s is self for s in other.chain())


def new_dag_component() -> dict[str, Any]:
    return {"dag": {"tasks": {}}}


def set_input(task: dict[str, Any], name: str, binding: dict[str, Any], artifact: bool) -> None:
    """Bind a task input; a binding to a sibling task's output is also a dependency."""
    section = task.setdefault("inputs", {}).setdefault(
        "artifacts" if artifact else "parameters", {}
    )
    section[name] = binding
    for key in ("taskOutputParameter", "taskOutputArtifact", "taskFinalStatus"):
        if key in binding:
            add_dependency(task, binding[key]["producerTask"])


def add_dependency(task: dict[str, Any], name: str) -> None:
    deps = task.setdefault("dependentTasks", [])
    if name not in deps:
        deps.append(name)
        deps.sort()


def add_definition(comp: dict[str, Any], side: str, name: str, definition: dict[str, Any]) -> None:
    """Declare an input (``side="inputDefinitions"``) or output of an IR component."""
    kind = "parameters" if "parameterType" in definition else "artifacts"
    comp.setdefault(side, {}).setdefault(kind, {})[name] = definition


@dataclass(frozen=True)
class PipelineOutput:
    """A pipeline's output, as the subject of a problem."""

    name: str
    source: SourceLocation | None


User = Node | TaskSpec | PipelineOutput
"""What uses a value or waits for a task: a task, a group, or a pipeline output."""


def describe(user: User) -> str:
    if isinstance(user, TaskSpec):
        return ""
    if isinstance(user, ConditionGroup):
        return f"If '{user.name}'"
    if isinstance(user, LoopGroup):
        if user.mapped and user.nodes:
            return f"mapped task '{user.nodes[0].name}'"
        return f"ParallelFor '{user.name}'"
    if isinstance(user, ExitHandlerGroup):
        return f"ExitHandler '{user.name}'"
    return f"pipeline output '{user.name}'"


def item_type(t: ParamType) -> str:
    if t.kind in ("int", "float", "str", "bool") and not t.optional:
        return _PARAMETER_TYPES[t.kind]
    return "STRING"


def constant_item_type(values: list[Any]) -> str:
    kinds = {type(v) for v in values}
    if kinds == {bool}:
        return "BOOLEAN"
    if kinds == {int}:
        return "NUMBER_INTEGER"
    if kinds <= {int, float} and kinds:
        return "NUMBER_DOUBLE"
    return "STRING"


def cel_literal(value: Any, floats: bool = False) -> str:
    """``value`` as a CEL literal (also valid Python, which kfp.local evaluates)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return repr(float(value)) if floats else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + ", ".join(cel_literal(v, floats) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{cel_literal(k)}: {cel_literal(v, floats)}" for k, v in value.items())
        return "{" + items + "}"
    return json.dumps(value)
