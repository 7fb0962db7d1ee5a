"""What the authoring API builds: tasks, wiring, options, groups and metadata in the spec."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal, NamedTuple

import pytest

from headwater import (
    Collected,
    Dataset,
    Elif,
    Else,
    Email,
    ExitHandler,
    FinalStatus,
    If,
    Input,
    Model,
    Output,
    ParallelFor,
    Param,
    Slack,
    component,
    importer,
    pipeline,
)
from headwater.spec import (
    CollectedBinding,
    ConditionGroup,
    ConstantBinding,
    ExitHandlerGroup,
    FinalStatusBinding,
    LoopGroup,
    LoopItemBinding,
    PipelineInputBinding,
    TaskOutputBinding,
    TaskSpec,
    parameters_json_schema,
)


class Split(NamedTuple):
    train_rows: int
    test_rows: int


@component(retries=3, retry_delay="10s", retry_backoff=True, timeout="1h", cpu=2, memory="4Gi")
def prepare(raw: Input[Dataset], train: Output[Dataset], test: Output[Dataset]) -> Split:
    return Split(1, 1)


@component
def fit(data: Input[Dataset], model: Output[Model], c: float = 1.0) -> float:
    return c


@component
def count(n: int, extra: list[int] | None = None) -> int:
    return n


@component
def report(status: FinalStatus) -> None:
    return None


def by_name(nodes: list, name: str):  # type: ignore[no-untyped-def]
    for node in nodes:
        if node.name == name:
            return node
        for child in getattr(node, "nodes", []):
            if child.name == name:
                return child
    raise KeyError(name)


def test_repeated_calls_get_unique_task_names_and_wiring() -> None:
    @pipeline
    def p(uri: str = "file:///tmp/raw.csv"):
        raw = importer(uri, Dataset, metadata={"source": "test"})
        prepared = prepare(raw=raw.output)
        fit(data=prepared.outputs["train"], c=0.5)
        fit(data=prepared.outputs["test"])
        fit(data=prepared.outputs["train"]).after(prepared)

    spec = p.compile()
    names = [n.name for n in spec.dag.nodes]
    assert names == ["importer", "prepare", "fit", "fit-2", "fit-3"]
    fit1 = by_name(spec.dag.nodes, "fit")
    assert fit1.inputs["data"] == TaskOutputBinding(
        kind="task_output", task="prepare", output="train"
    )
    assert fit1.inputs["c"] == ConstantBinding(kind="constant", value=0.5)
    assert by_name(spec.dag.nodes, "fit-3").after == ["prepare"]
    imp = by_name(spec.dag.nodes, "importer")
    assert imp.inputs["uri"] == PipelineInputBinding(kind="pipeline_input", name="uri")
    assert spec.components["importer"].implementation.metadata == {"source": "test"}
    assert set(spec.components) == {"importer", "prepare", "fit"}
    assert spec.artifact_types["headwater.Dataset"].bases == ["headwater.Artifact"]


def test_named_tuple_returns_and_output_artifacts_are_outputs() -> None:
    @pipeline
    def p():
        prepare(raw=importer("file:///x", Dataset).output)

    comp = p.compile().components["prepare"]
    assert list(comp.outputs) == ["train", "test", "train_rows", "test_rows"]
    assert comp.outputs["train"].artifact_type == "headwater.Dataset"
    assert comp.outputs["train_rows"].type.kind == "int"
    impl = comp.implementation
    assert impl.returns == "named_tuple" and impl.return_outputs == ["train_rows", "test_rows"]


def test_component_options_and_partial_task_overrides() -> None:
    @pipeline(task_defaults={"retries": 1, "env": {"STAGE": "dev"}})
    def p():
        raw = importer("file:///x", Dataset)
        prepare(raw=raw.output).set_retry(5).set_env_variable("SEED", "1")
        prepare(raw=raw.output).set_caching_options(False, ttl="1d").set_trigger_rule("all_done")

    spec = p.compile()
    comp = spec.components["prepare"].options
    assert comp.retry is not None
    assert (comp.retry.max_retries, comp.retry.delay_seconds, comp.retry.backoff_factor) == (
        3,
        10,
        2,
    )
    assert comp.timeout_seconds == 3600
    assert comp.resources is not None and comp.resources.cpu == 2
    assert comp.resources.memory_bytes == 4 * 2**30
    first = by_name(spec.dag.nodes, "prepare").options
    # Only the retry count changed: the component's delay and backoff are kept.
    assert first.retry is not None
    assert (first.retry.max_retries, first.retry.delay_seconds, first.retry.backoff_factor) == (
        5,
        10,
        2,
    )
    assert first.env == {"SEED": "1"}
    second = by_name(spec.dag.nodes, "prepare-2").options
    assert (
        second.cache is not None and not second.cache.enabled and second.cache.ttl_seconds == 86400
    )
    assert second.trigger_rule == "all_done"
    assert spec.task_defaults.retry is not None and spec.task_defaults.retry.max_retries == 1
    effective = spec.task_defaults.overlay(comp).overlay(first)
    assert effective.env == {"STAGE": "dev", "SEED": "1"}
    assert effective.retry is not None and effective.retry.max_retries == 5


def test_if_elif_else_build_one_condition_group() -> None:
    @pipeline
    def p(mode: str = "fast", n: int = 1):
        first = count(n=n)
        with If((first.output > 3) & (mode == "fast")):
            count(n=1)
        with Elif(mode.is_in(["slow", "medium"])):
            count(n=2)
        with Else():
            count(n=3)

    spec = p.compile()
    group = spec.dag.nodes[1]
    assert isinstance(group, ConditionGroup)
    assert [len(b.nodes) for b in group.branches] == [1, 1, 1]
    cond = group.branches[0].condition
    assert cond is not None and cond.kind == "logical" and cond.op == "and"
    assert group.branches[1].condition.op == "in"
    assert group.branches[2].condition is None


def test_parallel_for_collected_and_loop_items() -> None:
    @pipeline
    def p(configs: list[dict[str, int]] = [{"n": 1}, {"n": 2}]):  # noqa: B006
        with ParallelFor(configs, parallelism=2, name="sweep") as cfg:
            counted = count(n=cfg["n"])
        count(n=1, extra=Collected(counted.output))
        with ParallelFor([1, 2, 3]) as i:
            count(n=i)

    spec = p.compile()
    loop = spec.dag.nodes[0]
    assert isinstance(loop, LoopGroup) and loop.name == "sweep" and loop.parallelism == 2
    assert loop.nodes[0].inputs["n"] == LoopItemBinding(kind="loop_item", loop="sweep", key="n")
    sink = spec.dag.nodes[1]
    assert sink.inputs["extra"] == CollectedBinding(kind="collected", task="count", output="output")
    literal = spec.dag.nodes[2]
    assert literal.name == "loop-1" and literal.items == ConstantBinding(
        kind="constant", value=[1, 2, 3]
    )


def test_exit_handler_gets_final_status() -> None:
    @pipeline
    def p():
        done = report()
        with ExitHandler(done):
            count(n=1)

    group = p.compile().dag.nodes[0]
    assert isinstance(group, ExitHandlerGroup)
    assert group.exit_task.inputs == {"status": FinalStatusBinding(kind="final_status")}
    assert [n.name for n in group.nodes] == ["count"]


def test_nested_pipeline_is_a_dag_component() -> None:
    @pipeline
    def train_one(data: Input[Dataset], c: float = 1.0):
        return fit(data=data, c=c).outputs["model"]

    @pipeline
    def outer():
        raw = importer("file:///x", Dataset)
        inner = train_one(data=raw.output, c=0.1)
        fit(data=raw.output).after(inner)

    spec = outer.compile()
    comp = spec.components["train_one"]
    assert comp.implementation.type == "dag"
    assert comp.outputs["output"].artifact_type == "headwater.Model"
    assert comp.inputs["data"].kind == "artifact"
    inner_task = comp.implementation.dag.nodes[0]
    assert isinstance(inner_task, TaskSpec)
    assert inner_task.inputs["data"] == PipelineInputBinding(kind="pipeline_input", name="data")
    assert comp.implementation.outputs["output"].task == "fit"
    # Names inside the nested pipeline do not collide with the outer ones.
    assert [n.name for n in spec.dag.nodes] == ["importer", "train_one", "fit"]


def test_pipeline_metadata_and_parameter_schema() -> None:
    @pipeline(
        schedule="0 3 * * *",
        timezone="Europe/Paris",
        start_date=datetime(2026, 1, 1),
        catchup=True,
        max_active_runs=2,
        deadline=timedelta(hours=2),
        tags=["churn"],
        owner="ml-team",
        notify=[Slack("https://hooks.example.test/x"), Email("ml@example.test", on=["success"])],
    )
    def p(
        lr: Annotated[float, Param("learning rate", minimum=0, maximum=1)] = 0.1,
        mode: Literal["a", "b"] = "a",
        limit: int | None = None,
    ):
        count(n=1)

    spec = p.compile()
    assert spec.schedule is not None and spec.schedule.cron == "0 3 * * *"
    assert spec.schedule.timezone == "Europe/Paris"
    assert spec.start_date is not None and spec.start_date.utcoffset() == timedelta(hours=1)
    assert spec.catchup and spec.max_active_runs == 2 and spec.deadline_seconds == 7200
    assert [n.kind for n in spec.notifications] == ["slack", "email"]
    schema = parameters_json_schema(spec)
    assert schema["properties"]["lr"] == {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "description": "learning rate",
        "default": 0.1,
    }
    assert schema["properties"]["mode"]["enum"] == ["a", "b"]
    assert schema["properties"]["limit"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert "required" not in schema


@pytest.mark.parametrize(
    ("schedule", "kind"),
    [("@daily", "cron"), ("@once", "once"), (timedelta(minutes=30), "interval"), (None, None)],
)
def test_schedule_kinds(schedule: object, kind: str | None) -> None:
    @pipeline(schedule=schedule)  # type: ignore[arg-type]
    def p():
        count(n=1)

    spec = p.compile()
    assert (spec.schedule.kind if spec.schedule else None) == kind
