"""Kubeflow Pipelines IR in: a ``PipelineSpec`` compiled by the kfp v2 SDK, as a Headwater spec.

The IR gives each control-flow group (``dsl.If``, ``dsl.ParallelFor``,
``dsl.ExitHandler``) a DAG component of its own, fed through "pipeline channel" inputs.
Headwater's spec keeps groups inline, so each group's DAG is folded into its parent: a
channel input is replaced by what feeds it (a run parameter, a task output, a loop item),
a loop's collected outputs become ``collected`` bindings, and the trigger conditions
(a small CEL subset) become comparisons. A pipeline used as a step stays a component of
its own. Leaf executors become components: a lightweight Python component keeps its
module source (run by the task process with Kubeflow's calling rules), a container
component its command, an importer its URI. docs/adr/0016 records the mapping.

Anything the IR says that cannot run here is refused with the task and the feature
named; nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path
from typing import Any

from headwater.errors import LoadError
from headwater.spec import (
    ArtifactTypeInfo,
    CachePolicy,
    CollectedBinding,
    Comparison,
    ComponentSpec,
    ConditionBranch,
    ConditionGroup,
    ConstantBinding,
    ContainerImplementation,
    DagImplementation,
    DagSpec,
    ExitHandlerGroup,
    FinalStatusBinding,
    ImporterImplementation,
    IOSpec,
    Logical,
    LoopGroup,
    LoopItemBinding,
    ParamType,
    PipelineInputBinding,
    PipelineSpec,
    PythonImplementation,
    Resources,
    RetryPolicy,
    TaskOptions,
    TaskOutputBinding,
    TaskSpec,
    TriggerRule,
)

__all__ = ["is_kfp_ir", "load_kfp", "spec_from_kfp"]

_PARAM_KINDS: dict[str, Any] = {
    "NUMBER_INTEGER": "int",
    "NUMBER_DOUBLE": "float",
    "STRING": "str",
    "BOOLEAN": "bool",
    "LIST": "list",
    "STRUCT": "dict",
}
_BRANCHES = re.compile(r"^comp-condition-branches-\d+$")


def _ident(name: str, taken: set[str]) -> str:
    """``name`` as a Python identifier (a channel name like ``pipelinechannel--x`` is not),
    unique among ``taken``."""
    base = re.sub(r"\W", "_", name) or "_"
    if base[0].isdigit():
        base = "_" + base
    found, n = base, 1
    while found in taken:
        n += 1
        found = f"{base}_{n}"
    taken.add(found)
    return found


def is_kfp_ir(data: Any) -> bool:
    """Whether a loaded document is Kubeflow Pipelines IR (not a Headwater spec)."""
    return (
        isinstance(data, dict)
        and "pipelineInfo" in data
        and "root" in data
        and "schema_version" not in data
    )


def load_kfp(path: Path) -> PipelineSpec:
    """The Headwater spec of the Kubeflow pipeline in ``path`` (YAML or JSON IR)."""
    import yaml

    from headwater.interop._read import read_document

    hint = "pass a pipeline compiled by the kfp SDK"
    text = read_document(path, hint)
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise LoadError(f"cannot read {path}: {exc}", hint=hint) from None
    if not docs or not is_kfp_ir(docs[0]):
        raise LoadError(
            f"{path} is not a Kubeflow pipeline (no pipelineInfo and root)",
            hint="compile it with kfp.compiler.Compiler().compile(pipeline, 'pipeline.yaml')",
        )
    platform = docs[1] if len(docs) > 1 else None
    return spec_from_kfp(docs[0], platform=platform, source=str(path))


def spec_from_kfp(
    ir: dict[str, Any], *, platform: dict[str, Any] | None = None, source: str = "<ir>"
) -> PipelineSpec:
    return _Converter(ir, platform, source).convert()


def _kind(parameter_type: str, where: str) -> ParamType:
    kind = _PARAM_KINDS.get(parameter_type)
    if kind is None:
        raise LoadError(
            f"{where} has parameter type {parameter_type!r}, which Headwater cannot run"
        )
    return ParamType(kind=kind)


def _typed(value: Any, kind: str) -> Any:
    """An IR constant (numbers are doubles in protobuf) as a value of ``kind``."""
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _seconds(duration: Any, where: str) -> float:
    text = str(duration or "0s").strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", text)
    if not match:
        raise LoadError(f"{where}: cannot read the duration {text!r} (expected e.g. '30s')")
    return float(match.group(1))


_UNITS = {
    "": 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def _cpu(text: Any, where: str) -> float:
    s = str(text).strip()
    try:
        return float(s[:-1]) / 1000 if s.endswith("m") else float(s)
    except ValueError:
        raise LoadError(f"{where}: cannot read the CPU amount {s!r}") from None


def _memory(text: Any, where: str) -> int:
    s = str(text).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKMGT]i?)?", s)
    if not match:
        raise LoadError(f"{where}: cannot read the memory amount {s!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2) or ""])


# --------------------------------------------------------------------------- conditions


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<ref>inputs\.parameter_values\[(?P<q>['"])(?P<name>.*?)(?P=q)\])
    |(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    |(?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|,|\[|\])
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


class _ConditionParser:
    """The CEL subset the kfp compiler writes for ``dsl.If``/``Elif``/``Else``: parameter
    references (optionally cast with int()/double()/string()), literals, comparisons,
    ``!``, ``&&`` and ``||``."""

    def __init__(self, text: str, resolve: Any, where: str) -> None:
        self.text, self.resolve, self.where = text, resolve, where
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None:
                raise self.error(f"unexpected text at {text[pos : pos + 20]!r}")
            pos = m.end()
            if m.group("ref"):
                self.tokens.append(("ref", m.group("name")))
            elif m.group("str"):
                self.tokens.append(("lit", json.loads('"' + m.group("str")[1:-1] + '"')))
            elif m.group("num"):
                n = m.group("num")
                self.tokens.append(("lit", float(n) if any(c in n for c in ".eE") else int(n)))
            elif m.group("op"):
                self.tokens.append(("op", m.group("op")))
            else:
                word = m.group("word")
                consts = {"true": True, "false": False, "null": None}
                self.tokens.append(("lit", consts[word]) if word in consts else ("word", word))
        self.i = 0

    def fail(self, why: str) -> Any:
        raise self.error(why)

    def error(self, why: str) -> LoadError:
        return LoadError(
            f"{self.where}: cannot read its condition {self.text!r}: {why}",
            hint="conditions compiled by the kfp SDK from dsl.If/Elif/Else are supported",
        )

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None or (value is not None and tok != ("op", value)):
            self.fail(f"expected {value or 'more'}")
        self.i += 1
        return tok  # type: ignore[return-value]

    def parse(self) -> Any:
        cond = self.disjunction()
        if self.peek() is not None:
            self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return cond

    def disjunction(self) -> Any:
        parts = [self.conjunction()]
        while self.peek() == ("op", "||"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Logical(kind="logical", op="or", operands=parts)

    def conjunction(self) -> Any:
        parts = [self.unary()]
        while self.peek() == ("op", "&&"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else Logical(kind="logical", op="and", operands=parts)

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return Logical(kind="logical", op="not", operands=[self.unary()])
        if self.peek() == ("op", "("):
            self.take()
            inner = self.disjunction()
            self.take(")")
            return inner
        return self.comparison()

    def comparison(self) -> Any:
        left = self.operand()
        tok = self.take()
        ops = {"==", "!=", "<", "<=", ">", ">="}
        if tok == ("word", "in"):
            right = self.operand()
            return Comparison(kind="compare", op="in", left=left, right=right)
        if tok[0] != "op" or tok[1] not in ops:
            self.fail(f"expected a comparison, got {tok[1]!r}")
        right = self.operand()
        return Comparison(kind="compare", op=tok[1], left=left, right=right)

    def operand(self) -> Any:
        kind, value = self.take()
        if kind == "word" and value in ("int", "double", "string", "bool"):
            # A cast: values here already have their parameter's type.
            self.take("(")
            inner = self.operand()
            self.take(")")
            return inner
        if kind == "ref":
            return self.resolve(value)
        if kind == "lit":
            return ConstantBinding(kind="constant", value=value)
        if (kind, value) == ("op", "["):  # a list of literals, for 'in'
            items: list[Any] = []
            while self.peek() != ("op", "]"):
                item = self.operand()
                if not isinstance(item, ConstantBinding):
                    self.fail("a list in a condition may hold only literals")
                items.append(item.value)
                if self.peek() == ("op", ","):
                    self.take()
            self.take("]")
            return ConstantBinding(kind="constant", value=items)
        return self.fail(f"unexpected {value!r}")


# --------------------------------------------------------------------------- converting


class _Converter:
    def __init__(self, ir: dict[str, Any], platform: dict[str, Any] | None, source: str) -> None:
        self.ir = ir
        self.source = source
        self.comps: dict[str, Any] = ir.get("components") or {}
        self.executors: dict[str, Any] = (ir.get("deploymentSpec") or {}).get("executors") or {}
        self.components: dict[str, ComponentSpec] = {}
        # A pipeline used as a step whose input or output names are not identifiers (IR
        # written by other tools may pass channels straight through): its names here.
        self.renamed: dict[str, dict[str, str]] = {}
        self.artifact_types: dict[str, ArtifactTypeInfo] = {}
        self.name = str((ir.get("pipelineInfo") or {}).get("name") or "")
        self._check_platform(platform)

    # -- the pipeline

    def convert(self) -> PipelineSpec:
        root = self.ir["root"]
        inputs, outputs = self.interface(root, f"pipeline '{self.name}'")
        scope = {n: PipelineInputBinding(kind="pipeline_input", name=n) for n in inputs}
        nodes, loops = self.dag(root.get("dag") or {}, scope)
        impl = DagImplementation(
            type="dag",
            dag=DagSpec(nodes=nodes),
            outputs=self.dag_outputs(root.get("dag") or {}, loops, f"pipeline '{self.name}'"),
        )
        info = self.ir.get("pipelineInfo") or {}
        return PipelineSpec(
            schema_version="headwater.pipeline/v1",
            name=self.name,
            description=info.get("description") or None,
            root=ComponentSpec(name=self.name, inputs=inputs, outputs=outputs, implementation=impl),
            components=self.components,
            artifact_types=self.artifact_types,
        )

    def _check_platform(self, platform: dict[str, Any] | None) -> None:
        platforms = (platform or {}).get("platforms") or {}
        for name, spec in platforms.items():
            executors = ((spec or {}).get("deploymentSpec") or {}).get("executors") or {}
            used = {
                feature
                for config in executors.values()
                for feature, value in (config or {}).items()
                if value
            }
            if used:
                raise LoadError(
                    f"pipeline '{self.name}' uses {name} platform features "
                    f"({', '.join(sorted(used))}), which need a {name} cluster",
                    hint="remove the kfp-kubernetes settings to run it with Headwater, or run it "
                    "on Kubeflow",
                )

    # -- interfaces

    def artifact_type(self, spec: dict[str, Any]) -> str:
        title = str((spec.get("artifactType") or {}).get("schemaTitle") or "system.Artifact")
        if title not in self.artifact_types:
            bases = [] if title == "system.Artifact" else ["system.Artifact"]
            self.artifact_types[title] = ArtifactTypeInfo(schema_title=title, bases=bases)
            if bases and "system.Artifact" not in self.artifact_types:
                self.artifact_types["system.Artifact"] = ArtifactTypeInfo(
                    schema_title="system.Artifact"
                )
        return title

    def interface(
        self, comp: dict[str, Any], where: str
    ) -> tuple[dict[str, IOSpec], dict[str, IOSpec]]:
        found: list[dict[str, IOSpec]] = []
        for side in ("inputDefinitions", "outputDefinitions"):
            defs = comp.get(side) or {}
            ios: dict[str, IOSpec] = {}
            for name, p in (defs.get("parameters") or {}).items():
                ptype = p.get("parameterType", "")
                if ptype == "TASK_FINAL_STATUS":
                    ios[name] = IOSpec(kind="final_status")
                    continue
                t = _kind(ptype, f"{where} {side[:-11]} '{name}'")
                optional = bool(p.get("isOptional"))
                has_default = "defaultValue" in p or optional
                default = _typed(p.get("defaultValue"), t.kind)
                if optional and default is None:
                    t = t.model_copy(update={"optional": True})
                ios[name] = IOSpec(
                    kind="parameter",
                    type=t,
                    has_default=has_default,
                    default=default,
                    description=p.get("description") or None,
                )
            for name, a in (defs.get("artifacts") or {}).items():
                ios[name] = IOSpec(
                    kind="artifact",
                    artifact_type=self.artifact_type(a),
                    is_list=bool(a.get("isArtifactList")),
                    has_default=bool(a.get("isOptional")),
                    description=a.get("description") or None,
                )
            found.append(ios)
        return found[0], found[1]

    # -- DAGs

    def dag(
        self, dag: dict[str, Any], scope: dict[str, Any]
    ) -> tuple[list[Any], dict[str, dict[str, Any]]]:
        """The nodes of ``dag`` with its channel inputs bound by ``scope``; and the loops
        among them (name -> the loop's DAG outputs), for collected bindings."""
        tasks: dict[str, Any] = dag.get("tasks") or {}
        exit_tasks: dict[str, tuple[str, dict[str, Any]]] = {}
        for name, task in tasks.items():
            for p in ((task.get("inputs") or {}).get("parameters") or {}).values():
                producer = (p.get("taskFinalStatus") or {}).get("producerTask")
                if producer:
                    exit_tasks[producer] = (name, task)
        loops: dict[str, dict[str, Any]] = {}
        for name, task in tasks.items():
            ref = (task.get("componentRef") or {}).get("name", "")
            comp = self.comps.get(ref) or {}
            if "dag" in comp and ("parameterIterator" in task or "artifactIterator" in task):
                loops[name] = comp.get("dag") or {}
        nodes: list[Any] = []
        exit_names = {n for n, _ in exit_tasks.values()}
        for name, task in tasks.items():
            if name in exit_names:
                continue
            nodes.append(self.node(name, task, tasks, scope, loops, exit_tasks))
        return nodes, loops

    def node(
        self,
        name: str,
        task: dict[str, Any],
        siblings: dict[str, Any],
        scope: dict[str, Any],
        loops: dict[str, dict[str, Any]],
        exit_tasks: dict[str, tuple[str, dict[str, Any]]],
    ) -> Any:
        ref = (task.get("componentRef") or {}).get("name", "")
        comp = self.comps.get(ref)
        where = f"task '{name}' of pipeline '{self.name}'"
        if comp is None:
            raise LoadError(f"{where} names component {ref!r}, which the pipeline does not define")
        after = [d for d in task.get("dependentTasks") or [] if d in siblings]
        kind = self.group_kind(name, task, comp, ref, exit_tasks)
        if kind is not None:
            return self.group(name, task, comp, kind, siblings, scope, loops, exit_tasks, after)
        if name in exit_tasks:
            raise LoadError(f"{where}: an exit task's final status names a task, not a group")
        spec = self.task(name, task, ref, comp, siblings, scope, loops, after)
        cond_text = (task.get("triggerPolicy") or {}).get("condition")
        if not cond_text:
            return spec
        # A task with a condition of its own: the condition reads the task's inputs.
        own = {n: b for n, b in spec.inputs.items()}
        condition = self.condition(cond_text, own, where)
        group = f"{name}-if"
        while group in siblings:
            group += "-"
        return ConditionGroup(
            kind="condition",
            name=group,
            branches=[
                ConditionBranch(condition=condition, nodes=[spec.model_copy(update={"after": []})])
            ],
            after=spec.after,
        )

    def group_kind(
        self,
        name: str,
        task: dict[str, Any],
        comp: dict[str, Any],
        ref: str,
        exit_tasks: dict[str, tuple[str, dict[str, Any]]],
    ) -> str | None:
        """What a DAG component is to the task that runs it: a loop, a condition, an exit
        handler, a chain of branches; None for a pipeline used as a step."""
        if "dag" not in comp:
            return None
        if "parameterIterator" in task or "artifactIterator" in task:
            return "for-loop"
        if (task.get("triggerPolicy") or {}).get("condition"):
            return "condition"
        if name in exit_tasks:
            return "exit-handler"
        if _BRANCHES.match(ref):
            return "condition-branches"
        return None

    def group(
        self,
        name: str,
        task: dict[str, Any],
        comp: dict[str, Any],
        kind: str,
        siblings: dict[str, Any],
        scope: dict[str, Any],
        loops: dict[str, dict[str, Any]],
        exit_tasks: dict[str, tuple[str, dict[str, Any]]],
        after: list[str],
    ) -> Any:
        where = f"group '{name}' of pipeline '{self.name}'"
        inner = self.channels(task, scope, siblings, loops, where)
        if "parameterIterator" in task:
            it = task["parameterIterator"]
            items_spec = it.get("items") or {}
            if "raw" in items_spec:
                try:
                    raw = json.loads(items_spec["raw"])
                except ValueError:
                    raise LoadError(f"{where}: its loop items are not JSON") from None
                items: Any = ConstantBinding(kind="constant", value=raw)
            elif "inputParameter" in items_spec:
                items = inner.get(items_spec["inputParameter"])
                if items is None:
                    raise LoadError(f"{where}: its loop items name an unknown input")
            else:
                raise LoadError(f"{where}: its loop has no items")
            if isinstance(items, CollectedBinding):
                raise LoadError(
                    f"{where} loops over the collected outputs of another loop, which Headwater "
                    "cannot run",
                    hint="loop over a task output or a pipeline parameter instead",
                )
            inner[it.get("itemInput", "")] = LoopItemBinding(kind="loop_item", loop=name)
            parallelism = (task.get("iteratorPolicy") or {}).get("parallelismLimit") or None
            nodes, _ = self.dag(comp.get("dag") or {}, inner)
            return LoopGroup(
                kind="loop",
                name=name,
                items=items,
                parallelism=int(parallelism) if parallelism else None,
                nodes=nodes,
                after=after,
            )
        if "artifactIterator" in task:
            raise LoadError(
                f"{where} loops over a list of artifacts (dsl.ParallelFor over artifacts), which "
                "Headwater cannot run yet",
                hint="loop over a list of parameters instead",
            )
        if (comp.get("dag") or {}).get("outputs") and kind.startswith("condition"):
            raise LoadError(
                f"{where} has outputs (dsl.OneOf), which Headwater cannot run yet",
                hint="pass the branch's outputs on inside the branch instead",
            )
        if kind == "condition-branches":
            branches = []
            for child_name, child in ((comp.get("dag") or {}).get("tasks") or {}).items():
                child_ref = (child.get("componentRef") or {}).get("name", "")
                child_comp = self.comps.get(child_ref) or {}
                cond_text = (child.get("triggerPolicy") or {}).get("condition")
                cwhere = f"branch '{child_name}' of pipeline '{self.name}'"
                if not cond_text or "dag" not in child_comp:
                    raise LoadError(f"{cwhere} is not a condition branch")
                child_scope = self.channels(child, inner, {}, {}, cwhere)
                condition = self.condition(cond_text, child_scope, cwhere)
                nodes, _ = self.dag(child_comp["dag"], child_scope)
                branches.append(ConditionBranch(condition=condition, nodes=nodes))
            return ConditionGroup(kind="condition", name=name, branches=branches, after=after)
        if kind == "condition":
            cond_text = (task.get("triggerPolicy") or {}).get("condition")
            if not cond_text:
                raise LoadError(f"{where} is a condition group without a condition")
            condition = self.condition(cond_text, inner, where)
            nodes, _ = self.dag(comp.get("dag") or {}, inner)
            return ConditionGroup(
                kind="condition",
                name=name,
                branches=[ConditionBranch(condition=condition, nodes=nodes)],
                after=after,
            )
        # An exit handler: its body, then its exit task whatever happened.
        if name not in exit_tasks:
            raise LoadError(f"{where} is an exit handler without an exit task")
        exit_name, exit_task = exit_tasks[name]
        exit_ref = (exit_task.get("componentRef") or {}).get("name", "")
        exit_comp = self.comps.get(exit_ref) or {}
        exit_spec = self.task(exit_name, exit_task, exit_ref, exit_comp, siblings, scope, loops, [])
        # Running whatever happened is what makes it the exit task: no rule of its own.
        exit_spec = exit_spec.model_copy(
            update={
                "after": [],
                "options": exit_spec.options.model_copy(update={"trigger_rule": None}),
            }
        )
        nodes, _ = self.dag(comp.get("dag") or {}, inner)
        return ExitHandlerGroup(
            kind="exit_handler", name=name, exit_task=exit_spec, nodes=nodes, after=after
        )

    def channels(
        self,
        task: dict[str, Any],
        scope: dict[str, Any],
        siblings: dict[str, Any],
        loops: dict[str, dict[str, Any]],
        where: str,
    ) -> dict[str, Any]:
        """What feeds each channel input of a group, in the group's parent's terms."""
        inputs = task.get("inputs") or {}
        bound: dict[str, Any] = {}
        for kind in ("parameters", "artifacts"):
            for name, spec in (inputs.get(kind) or {}).items():
                bound[name] = self.binding(spec, scope, siblings, loops, f"{where} input '{name}'")
        return bound

    def condition(self, text: str, scope: dict[str, Any], where: str) -> Any:
        def resolve(name: str) -> Any:
            value = scope.get(name)
            if value is None or isinstance(value, CollectedBinding | FinalStatusBinding):
                raise LoadError(f"{where}: its condition names {name!r}, which it cannot read")
            return value

        return _ConditionParser(text, resolve, where).parse()

    def binding(
        self,
        spec: dict[str, Any],
        scope: dict[str, Any],
        siblings: dict[str, Any],
        loops: dict[str, dict[str, Any]],
        where: str,
        kind: str = "any",
    ) -> Any:
        selector = spec.get("parameterExpressionSelector")
        if "componentInputParameter" in spec or "componentInputArtifact" in spec:
            name = str(spec.get("componentInputParameter") or spec.get("componentInputArtifact"))
            value = scope.get(name)
            if value is None:
                raise LoadError(f"{where} reads {name!r}, which nothing feeds")
            if selector:
                key = re.fullmatch(r"""parseJson\(string_value\)\[["'](.+?)["']\]""", selector)
                if not (isinstance(value, LoopItemBinding) and value.key is None and key):
                    raise LoadError(f"{where}: cannot read the selector {selector!r}")
                return LoopItemBinding(kind="loop_item", loop=value.loop, key=key.group(1))
            return value
        if selector:
            raise LoadError(f"{where}: cannot read the selector {selector!r}")
        if "runtimeValue" in spec:
            value = (spec["runtimeValue"] or {}).get("constant")
            return ConstantBinding(kind="constant", value=_typed(value, kind))
        if "taskFinalStatus" in spec:
            return FinalStatusBinding(kind="final_status")
        for field, key_field in (
            ("taskOutputParameter", "outputParameterKey"),
            ("taskOutputArtifact", "outputArtifactKey"),
        ):
            if field in spec:
                producer = spec[field].get("producerTask", "")
                key = spec[field].get(key_field, "")
                if producer not in siblings and producer not in loops:
                    raise LoadError(f"{where} reads an output of {producer!r}, an unknown task")
                return self.output_of(siblings, producer, key, loops, where)
        raise LoadError(f"{where}: cannot read its input {json.dumps(spec)[:200]}")

    def collected(self, loop: str, key: str, dag: dict[str, Any], where: str) -> Any:
        outputs = dag.get("outputs") or {}
        param = (outputs.get("parameters") or {}).get(key)
        if param is not None:
            source = param.get("valueFromParameter") or {}
            task, output = source.get("producerSubtask"), source.get("outputParameterKey")
        else:
            art = (outputs.get("artifacts") or {}).get(key) or {}
            selectors = art.get("artifactSelectors") or [{}]
            task, output = (
                selectors[0].get("producerSubtask"),
                selectors[0].get("outputArtifactKey"),
            )
        inner_tasks = dag.get("tasks") or {}
        if not task or not output or task not in inner_tasks:
            raise LoadError(
                f"{where} reads output {key!r} of loop {loop!r}, which it does not have"
            )
        inner_task = inner_tasks[task]
        inner_ref = (inner_task.get("componentRef") or {}).get("name", "")
        if self.group_kind(task, inner_task, self.comps.get(inner_ref) or {}, inner_ref, {}):
            raise LoadError(
                f"{where} collects outputs through nested groups inside loop {loop!r}, which "
                "Headwater cannot run yet",
                hint="collect from a task directly inside the loop",
            )
        return CollectedBinding(kind="collected", task=task, output=output)

    def dag_outputs(
        self, dag: dict[str, Any], loops: dict[str, dict[str, Any]], where: str
    ) -> dict[str, Any]:
        found: dict[str, Any] = {}
        outputs = dag.get("outputs") or {}
        for name, p in (outputs.get("parameters") or {}).items():
            source = p.get("valueFromParameter")
            if source is None:
                raise LoadError(
                    f"{where} output '{name}' comes from a dsl.OneOf, not supported yet"
                )
            found[name] = self.output_of(
                dag.get("tasks") or {},
                source["producerSubtask"],
                source["outputParameterKey"],
                loops,
                where,
            )
        for name, a in (outputs.get("artifacts") or {}).items():
            selectors = a.get("artifactSelectors") or []
            if len(selectors) != 1:
                raise LoadError(
                    f"{where} output '{name}' comes from a dsl.OneOf, not supported yet"
                )
            found[name] = self.output_of(
                dag.get("tasks") or {},
                selectors[0]["producerSubtask"],
                selectors[0]["outputArtifactKey"],
                loops,
                where,
            )
        return found

    def output_of(
        self,
        tasks: dict[str, Any],
        task: str,
        key: str,
        loops: dict[str, dict[str, Any]],
        where: str,
    ) -> Any:
        """What output ``key`` of ``task`` (one of ``tasks``) is: a task's output, every
        iteration's output of a loop, or, through a group folded inline (an exit handler,
        a condition), the output of the task inside it that the group passes on."""
        if task in loops:
            return self.collected(task, key, loops[task], where)
        spec = tasks.get(task) or {}
        ref = (spec.get("componentRef") or {}).get("name", "")
        comp = self.comps.get(ref) or {}
        exits = {
            (p.get("taskFinalStatus") or {}).get("producerTask")
            for t in tasks.values()
            for p in ((t.get("inputs") or {}).get("parameters") or {}).values()
        }
        kind = self.group_kind(task, spec, comp, ref, {e: ("", {}) for e in exits if e})
        if kind is None:
            if "dag" in comp:  # a pipeline step: its output names, as converted
                self.component(ref, comp, where)
            renamed = self.renamed.get(ref[len("comp-") :] if ref.startswith("comp-") else ref)
            return TaskOutputBinding(
                kind="task_output", task=task, output=(renamed or {}).get(key, key)
            )
        dag = comp.get("dag") or {}
        outputs = dag.get("outputs") or {}
        param = (outputs.get("parameters") or {}).get(key)
        art = (outputs.get("artifacts") or {}).get(key) or {}
        source = (param or {}).get("valueFromParameter") or (
            (art.get("artifactSelectors") or [{}])[0]
            if len(art.get("artifactSelectors") or []) == 1
            else {}
        )
        inner = source.get("producerSubtask")
        inner_key = source.get("outputParameterKey") or source.get("outputArtifactKey")
        if not inner or not inner_key:
            raise LoadError(
                f"{where} reads output {key!r} of group {task!r}, which comes from a dsl.OneOf "
                "or from nothing: not supported yet"
            )
        inner_loops = {
            n: (self.comps.get((t.get("componentRef") or {}).get("name", "")) or {}).get("dag")
            or {}
            for n, t in (dag.get("tasks") or {}).items()
            if "parameterIterator" in t or "artifactIterator" in t
        }
        return self.output_of(dag.get("tasks") or {}, inner, inner_key, inner_loops, where)

    # -- tasks and leaf components

    def task(
        self,
        name: str,
        task: dict[str, Any],
        ref: str,
        comp: dict[str, Any],
        siblings: dict[str, Any],
        scope: dict[str, Any],
        loops: dict[str, dict[str, Any]],
        after: list[str],
    ) -> TaskSpec:
        where = f"task '{name}' of pipeline '{self.name}'"
        key = self.component(ref, comp, where)
        spec_inputs = self.components[key].inputs
        names = self.renamed.get(key, {})
        inputs: dict[str, Any] = {}
        given = task.get("inputs") or {}
        for kind in ("parameters", "artifacts"):
            for given_name, spec in (given.get(kind) or {}).items():
                input_name = names.get(given_name, given_name)
                io = spec_inputs.get(input_name)
                ptype = io.type.kind if io is not None and io.type is not None else "any"
                inputs[input_name] = self.binding(
                    spec, scope, siblings, loops, f"{where} input '{input_name}'", ptype
                )
        options = self.task_options(name, task, where)
        return TaskSpec(
            kind="task",
            name=name,
            component=key,
            inputs=inputs,
            after=[a for a in after if a != name],
            options=options,
        )

    def task_options(self, name: str, task: dict[str, Any], where: str) -> TaskOptions:
        fields: dict[str, Any] = {}
        display = (task.get("taskInfo") or {}).get("name")
        if display and display != name:
            fields["display_name"] = display
        caching = task.get("cachingOptions")
        if caching is not None:
            if caching.get("cacheKey"):
                raise LoadError(
                    f"{where} sets its own cache key, which Headwater cannot honour: its cache "
                    "key is the content of the task's code and inputs",
                    hint="drop cache_key from set_caching_options",
                )
            if not caching.get("enableCache", False):
                fields["cache"] = CachePolicy(enabled=False)
        retry = task.get("retryPolicy")
        if retry:
            fields["retry"] = RetryPolicy(
                max_retries=int(retry.get("maxRetryCount") or 0),
                delay_seconds=_seconds(retry.get("backoffDuration"), where),
                backoff_factor=max(1.0, float(retry.get("backoffFactor") or 1.0)),
                max_delay_seconds=_seconds(retry.get("backoffMaxDuration", "3600s"), where),
            )
        strategy = (task.get("triggerPolicy") or {}).get("strategy")
        if strategy == "ALL_UPSTREAM_TASKS_COMPLETED":
            fields["trigger_rule"] = TriggerRule.ALL_DONE
        elif strategy not in (None, "ALL_UPSTREAM_TASKS_SUCCEEDED", "TRIGGER_STRATEGY_UNSPECIFIED"):
            raise LoadError(
                f"{where} has trigger strategy {strategy!r}, which Headwater cannot run"
            )
        return TaskOptions(**fields)

    def component(self, ref: str, comp: dict[str, Any], where: str) -> str:
        key = ref[len("comp-") :] if ref.startswith("comp-") else ref
        if key in self.components:
            return key
        inputs, outputs = self.interface(comp, f"component '{key}'")
        options: dict[str, Any] = {}
        if "dag" in comp:
            taken: set[str] = set()
            names = {n: n if n.isidentifier() else _ident(n, taken) for n in [*inputs, *outputs]}
            self.renamed[key] = names
            scope = {n: PipelineInputBinding(kind="pipeline_input", name=names[n]) for n in inputs}
            inputs = {names[n]: io for n, io in inputs.items()}
            outputs = {names[n]: io for n, io in outputs.items()}
            nodes, loops = self.dag(comp["dag"], scope)
            dag_outputs = self.dag_outputs(comp["dag"], loops, f"pipeline '{key}'")
            impl: Any = DagImplementation(
                type="dag",
                dag=DagSpec(nodes=nodes),
                outputs={names.get(n, n): b for n, b in dag_outputs.items()},
            )
        else:
            label = comp.get("executorLabel", "")
            executor = self.executors.get(label)
            if executor is None:
                raise LoadError(f"{where}: its component {key!r} has no executor {label!r}")
            if "importer" in executor:
                impl = self.importer(executor["importer"], key, where)
                inputs = {"uri": IOSpec(kind="parameter", type=ParamType(kind="str"))}
            elif "container" in executor:
                impl, options = self.container(executor["container"], key, where)
            else:
                kinds = ", ".join(sorted(executor)) or "nothing"
                raise LoadError(
                    f"{where}: its component {key!r} is a {kinds} executor, which needs a "
                    "Kubeflow or Vertex AI backend"
                )
        self.components[key] = ComponentSpec(
            name=key,
            description=comp.get("description") or None,
            inputs=inputs,
            outputs=outputs,
            implementation=impl,
            options=TaskOptions(**options),
        )
        return key

    def importer(self, spec: dict[str, Any], key: str, where: str) -> ImporterImplementation:
        metadata = spec.get("metadata") or {}
        if "{{$" in json.dumps(metadata):
            raise LoadError(
                f"{where}: its importer's metadata uses placeholders, which Headwater cannot "
                "fill in yet",
                hint="give the importer constant metadata",
            )
        title = str((spec.get("typeSchema") or {}).get("schemaTitle") or "system.Artifact")
        self.artifact_type({"artifactType": {"schemaTitle": title}})
        return ImporterImplementation(
            type="importer",
            artifact_type=title,
            metadata=metadata,
            reimport=bool(spec.get("reimport")),
        )

    def container(self, spec: dict[str, Any], key: str, where: str) -> tuple[Any, dict[str, Any]]:
        options: dict[str, Any] = {}
        env = {e["name"]: str(e.get("value", "")) for e in spec.get("env") or [] if "name" in e}
        if env:
            options["env"] = env
        resources = self.resources(spec.get("resources") or {}, where)
        if resources is not None:
            options["resources"] = resources
        for unsupported in ("lifecycle", "configMap", "volumeMounts"):
            if spec.get(unsupported):
                raise LoadError(
                    f"{where}: its container sets {unsupported}, which needs Kubernetes"
                )
        command = [str(c) for c in spec.get("command") or []]
        args = [str(a) for a in spec.get("args") or []]
        image = str(spec.get("image") or "")
        lightweight = self.lightweight(command, args, key, where)
        if lightweight is not None:
            source, function, packages, timeout = lightweight
            if packages:
                options["packages"] = packages
            if timeout is not None:
                options["timeout_seconds"] = timeout
            digest = hashlib.sha256(
                json.dumps([source, function], ensure_ascii=False).encode("utf-8", "surrogatepass")
            ).hexdigest()
            impl: Any = PythonImplementation(
                type="python",
                module=f"headwater_kfp_{digest[:16]}",
                function=function,
                file="",
                code_digest="sha256:" + digest,
                source=source,
                protocol="kfp",
                image=image or None,
            )
            return impl, options
        digest = hashlib.sha256(
            json.dumps([image, command, args], ensure_ascii=False).encode("utf-8", "surrogatepass")
        ).hexdigest()
        return (
            ContainerImplementation(
                type="container",
                image=image,
                command=command,
                args=args,
                code_digest="sha256:" + digest,
            ),
            options,
        )

    def lightweight(
        self, command: list[str], args: list[str], key: str, where: str
    ) -> tuple[str, str, list[str], float | None] | None:
        """(source, function, packages, timeout) of a kfp lightweight Python component, or
        None. The timeout is that of a ``timeout`` command the program runs under (the IR
        has no field for one; Headwater's own compiler writes it so)."""
        at = next((i for i, c in enumerate(command) if "kfp.dsl.executor_main" in c), None)
        if at is None:
            return None
        if at + 1 >= len(command) or "--function_to_execute" not in args:
            raise LoadError(
                f"{where}: its component {key!r} looks like a kfp lightweight "
                "component, but has no embedded source"
            )
        source = command[at + 1]
        i = args.index("--function_to_execute")
        if i + 1 >= len(args):
            raise LoadError(f"{where}: its component {key!r} names no function to run")
        function = args[i + 1]
        packages: list[str] = []
        for script in command[:at]:
            for line in re.split(r"&&|\n", script):
                if "pip install" not in line:
                    continue
                try:
                    words = shlex.split(line)
                except ValueError:
                    raise LoadError(f"{where}: cannot read its pip install line {line!r}") from None
                tail = words[words.index("install") + 1 :]
                skip_next = False
                for word in tail:
                    if skip_next:
                        skip_next = False
                        continue
                    if word in ("--index-url", "--extra-index-url", "-i"):
                        raise LoadError(
                            f"{where}: its component {key!r} installs packages from its own "
                            "index (pip_index_urls), which Headwater's per-step environments "
                            "do not take from a pipeline",
                            hint="drop pip_index_urls and configure the index for uv "
                            "(UV_INDEX_URL) where Headwater runs",
                        )
                    if word == "--trusted-host":
                        skip_next = True
                        continue
                    if word.startswith("-") or word in ('"$0"', '"$@"', "$0", "$@"):
                        continue
                    name = re.split(r"[<>=!~;\[ ]", word, maxsplit=1)[0].lower()
                    if name in ("kfp", "typing-extensions", ""):
                        continue
                    packages.append(word)
        limit = re.search(
            r"\btimeout\s+(?:--kill-after=\S+\s+|-k\s+\S+\s+|-s\s+\S+\s+)*(\d+(?:\.\d+)?)s?\s",
            command[at],
        )
        return source, function, packages, float(limit.group(1)) if limit else None

    def resources(self, spec: dict[str, Any], where: str) -> Resources | None:
        fields: dict[str, Any] = {}
        cpu = spec.get("resourceCpuLimit") or spec.get("resourceCpuRequest")
        if cpu is None and (spec.get("cpuLimit") or spec.get("cpuRequest")):
            cpu = spec.get("cpuLimit") or spec.get("cpuRequest")
        if cpu is not None:
            fields["cpu"] = _cpu(cpu, where)
        memory = spec.get("resourceMemoryLimit") or spec.get("resourceMemoryRequest")
        if memory is not None:
            fields["memory_bytes"] = _memory(memory, where)
        elif spec.get("memoryLimit") or spec.get("memoryRequest"):
            gb = float(spec.get("memoryLimit") or spec.get("memoryRequest") or 0)
            fields["memory_bytes"] = int(gb * 10**9)
        acc = spec.get("accelerator") or {}
        kind = acc.get("resourceType") or acc.get("type")
        count = acc.get("resourceCount") or acc.get("count")
        if kind or count:
            fields["gpu"] = int(count or 1)
            # 'nvidia.com/gpu' is Kubernetes' name for any NVIDIA GPU: a count, not a kind.
            if kind and str(kind) not in ("nvidia.com/gpu", "amd.com/gpu"):
                fields["accelerator"] = str(kind)
        return Resources(**fields) if fields else None
