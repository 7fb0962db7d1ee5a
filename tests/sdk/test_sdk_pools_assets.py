"""Pools, priorities, concurrency, task notifications, assets and asset schedules.

What each option compiles to, and every bad value: each error names the pipeline,
the task, the file and line, and suggests a fix.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from markers import assert_location, compile_error, line_of, only_problem, same_file

import headwater
from headwater import (
    Asset,
    Dataset,
    Email,
    Input,
    Model,
    Output,
    Slack,
    Webhook,
    component,
    pipeline,
)
from headwater.errors import ComponentDefinitionError, DefinitionError
from headwater.sdk import AssetCondition
from headwater.spec import NotificationSpec, PipelineSpec, ScheduleSpec, TaskOptions, TaskSpec

HERE = __file__


@component
def load(data: Output[Dataset]) -> None:
    pass


@component(
    pool="gpu",
    pool_slots=2,
    priority=5,
    assets={"model": Asset("models://churn")},
    notify=[Slack("https://hooks.test/T", on=["failure", "retry"])],
)
def train(data: Input[Dataset], model: Output[Model]) -> float:
    return 0.9


@component
def fit(data: Input[Dataset], model: Output[Model]) -> float:
    return 0.9


def alert(event: Any) -> None:
    pass


def task_named(spec: PipelineSpec, name: str) -> TaskSpec:
    for node in spec.dag.nodes:
        if isinstance(node, TaskSpec) and node.name == name:
            return node
    raise AssertionError(f"no task {name}")


def effective(spec: PipelineSpec, name: str) -> TaskOptions:
    """A task's options as the engine sees them: defaults, component, task."""
    task = task_named(spec, name)
    comp = spec.components[task.component]
    return spec.task_defaults.overlay(comp.options).overlay(task.options)


# --------------------------------------------------------------------------- what compiles


def test_component_options_reach_the_spec() -> None:
    @pipeline
    def uses_train() -> None:
        train(data=load().outputs["data"])

    spec = uses_train.compile()
    options = spec.components["train"].options
    assert options.pool == "gpu"
    assert options.pool_slots == 2
    assert options.priority == 5
    assert options.assets == {"model": "models://churn"}
    assert options.notifications == [
        NotificationSpec(kind="slack", target="https://hooks.test/T", on=["failure", "retry"])
    ]
    # The task sets nothing of its own.
    assert task_named(spec, "train").options == TaskOptions()


def test_task_setters_return_the_task_and_reach_the_spec() -> None:
    seen: list[Any] = []

    @pipeline
    def setters() -> None:
        made = load()
        same = made.set_pool("io").set_priority(-2).updates_asset("data", "s3://lake/raw")
        seen.append(same is made)
        fit(data=made.outputs["data"]).set_pool("gpu", slots=4)

    spec = setters.compile()
    assert seen == [True]
    loaded = task_named(spec, "load").options
    assert (loaded.pool, loaded.pool_slots, loaded.priority) == ("io", 1, -2)
    assert loaded.assets == {"data": "s3://lake/raw"}
    fitted = task_named(spec, "fit").options
    assert (fitted.pool, fitted.pool_slots, fitted.priority) == ("gpu", 4, None)


def test_set_options_takes_the_same_keywords() -> None:
    @pipeline
    def via_options() -> None:
        load().set_options(
            pool="io",
            pool_slots=3,
            priority=9,
            assets={"data": Asset("s3://lake/raw")},
            notify=[Email("ml@example.test", on=["success"]), alert],
        )

    options = task_named(via_options.compile(), "load").options
    assert (options.pool, options.pool_slots, options.priority) == ("io", 3, 9)
    assert options.assets == {"data": "s3://lake/raw"}
    assert options.notifications is not None
    assert [(n.kind, n.on) for n in options.notifications] == [
        ("email", ["success"]),
        ("callable", ["failure"]),
    ]
    assert options.notifications[1].target.endswith(":alert")


def test_task_assets_add_to_the_components() -> None:
    @pipeline
    def more_assets() -> None:
        trained = train(data=load().outputs["data"])
        trained.updates_asset("model", "models://churn-v2")

    spec = more_assets.compile()
    # The task's own asset replaces the component's for that output; others would stay.
    assert effective(spec, "train").assets == {"model": "models://churn-v2"}


def test_updates_asset_accumulates_across_outputs() -> None:
    @component
    def split(data: Output[Dataset], holdout: Output[Dataset]) -> int:
        return 1

    @pipeline
    def two_outputs() -> None:
        split().updates_asset("data", "s3://lake/train").updates_asset("holdout", "s3://lake/test")

    assert effective(two_outputs.compile(), "split").assets == {
        "data": "s3://lake/train",
        "holdout": "s3://lake/test",
    }


def test_task_overrides_pool_and_turns_notifications_off() -> None:
    @pipeline
    def quiet() -> None:
        train(data=load().outputs["data"]).set_options(pool="gpu-big", notify=[])

    options = effective(quiet.compile(), "train")
    assert options.pool == "gpu-big"
    assert options.pool_slots == 2  # kept from the component
    assert options.notifications == []


def test_task_defaults_set_pool_priority_and_notifications() -> None:
    @pipeline(
        task_defaults={"pool": "shared", "priority": 1, "notify": alert},
        max_active_tasks=3,
    )
    def defaults() -> None:
        fit(data=load().outputs["data"])
        train(data=load().outputs["data"])

    spec = defaults.compile()
    assert spec.max_active_tasks == 3
    assert effective(spec, "fit").pool == "shared"
    assert effective(spec, "fit").priority == 1
    assert effective(spec, "train").pool == "gpu"  # the component's own wins
    notes = effective(spec, "fit").notifications
    assert notes is not None and [n.kind for n in notes] == ["callable"]


def test_new_options_leave_the_code_digest_alone() -> None:
    def body(data: Input[Dataset], model: Output[Model]) -> float:
        return 0.9

    plain = component(body)
    busy = component(
        pool="gpu",
        pool_slots=2,
        priority=3,
        assets={"model": "models://x"},
        notify=Webhook("https://hooks.test/w", on=["success"]),
    )(body)
    assert plain.code_digest() == busy.code_digest()


# --------------------------------------------------------------------------- asset schedules


def schedule_of(schedule: Any, **meta: Any) -> ScheduleSpec:
    @pipeline(schedule=schedule, **meta)
    def on_assets() -> None:
        load()

    spec = on_assets.compile()
    assert spec.schedule is not None
    return spec.schedule


def test_one_asset_is_an_all_of_schedule() -> None:
    sched = schedule_of(Asset("s3://lake/features"))
    assert (sched.kind, sched.assets, sched.asset_mode) == ("assets", ["s3://lake/features"], "all")


@pytest.mark.parametrize(
    "schedule",
    [
        [Asset("s3://lake/a"), Asset("s3://lake/b"), Asset("s3://lake/c")],
        (Asset("s3://lake/a"), "s3://lake/b", Asset("s3://lake/c")),
        Asset("s3://lake/a") & Asset("s3://lake/b") & Asset("s3://lake/c"),
        Asset("s3://lake/a") & (Asset("s3://lake/b") & "s3://lake/c"),
        "s3://lake/a" & Asset("s3://lake/b") & "s3://lake/c",
    ],
)
def test_all_of_schedules(schedule: Any) -> None:
    sched = schedule_of(schedule)
    assert sched.asset_mode == "all"
    assert sched.assets == ["s3://lake/a", "s3://lake/b", "s3://lake/c"]


@pytest.mark.parametrize(
    "schedule",
    [
        Asset("s3://lake/a") | Asset("s3://lake/b") | Asset("s3://lake/c"),
        Asset("s3://lake/a") | ("s3://lake/b" | Asset("s3://lake/c")),
    ],
)
def test_any_of_schedules(schedule: Any) -> None:
    sched = schedule_of(schedule)
    assert sched.asset_mode == "any"
    assert sched.assets == ["s3://lake/a", "s3://lake/b", "s3://lake/c"]


def test_asset_schedule_accepts_dates_catchup_and_time_zone() -> None:
    sched = schedule_of(
        Asset("s3://lake/a"), start_date="2026-01-01", catchup=True, timezone="Europe/Paris"
    )
    assert sched.kind == "assets"
    assert sched.timezone == "Europe/Paris"


def test_asset_values() -> None:
    a = Asset("s3://lake/a")
    assert a == Asset("s3://lake/a") and a != Asset("s3://lake/b")
    assert len({a, Asset("s3://lake/a")}) == 1
    assert repr(a) == "Asset('s3://lake/a')"
    both = a & Asset("s3://lake/b")
    assert isinstance(both, AssetCondition)
    assert repr(both) == "Asset('s3://lake/a') & Asset('s3://lake/b')"
    assert headwater.Asset is Asset


def test_cron_and_interval_schedules_are_unchanged() -> None:
    assert schedule_of("@daily").kind == "cron"
    assert schedule_of(timedelta(hours=1)).kind == "interval"


# --------------------------------------------------------------------------- @component errors


def component_error(**options: Any) -> DefinitionError:
    with pytest.raises(ComponentDefinitionError) as info:

        @component(**options)  # mark: component-options
        def configured(model: Output[Model]) -> None:
            pass

    error = info.value
    line = line_of("component-options", HERE)
    assert same_file(error.location.file, HERE), str(error)
    assert error.location.line == line, str(error)
    assert f"{Path(HERE).name}:{line}" in str(error)
    assert "component 'configured'" in error.message
    assert error.hint, f"no fix is suggested in: {error}"
    return error


@pytest.mark.parametrize(
    ("options", "fragment", "hint"),
    [
        (
            {"pool": "gpu pool"},
            "pool must be a name of 1 to 64 letters, digits, '_', '-' or '.', got 'gpu pool'",
            "pool='gpu'",
        ),
        ({"pool": "x" * 65}, "pool must be a name of 1 to 64", "pool='gpu'"),
        ({"pool": 3}, "got 3", "pool='gpu'"),
        ({"pool_slots": 0}, "pool_slots must be a whole number >= 1, got 0", "pool_slots=2"),
        ({"pool_slots": 1.5}, "pool_slots must be a whole number >= 1, got 1.5", "pool_slots=2"),
        ({"priority": "high"}, "priority must be a whole number, got 'high'", "priority=10"),
        ({"priority": True}, "priority must be a whole number, got True", "priority=10"),
        ({"priority": 2.5}, "priority must be a whole number, got 2.5", "priority=10"),
        (
            {"assets": {"model": "churn model"}},
            "asset of output 'model': invalid asset name 'churn model'",
            "s3://",
        ),
        (
            {"assets": {"model": Asset("models://" + "x" * 600)}},
            "asset name is 609 characters long (at most 512)",
            "512",
        ),
        ({"assets": ["models://churn"]}, "assets must map output names to assets", "Asset("),
        ({"assets": {"model": 7}}, "asset of output 'model' must be an Asset or a str", "Asset("),
        (
            {"notify": Slack("https://hooks.test/T", on=["deadline_missed"])},
            "a task notification cannot fire on 'deadline_missed'",
            "@pipeline(notify=",
        ),
        (
            {"notify": [Email("ml@example.test", on=["started"])]},
            "unknown notification event(s) started",
            "success, failure, retry",
        ),
        ({"notify": ["https://hooks.test/T"]}, "notify entries must be Slack(...)", "Slack("),
    ],
)
def test_bad_component_option(options: dict[str, Any], fragment: str, hint: str) -> None:
    error = component_error(**options)
    assert fragment in error.message
    assert hint in (error.hint or "")


def test_component_asset_on_an_unknown_output() -> None:
    @component(assets={"modle": "models://churn"})  # mark: unknown-output
    def typo(model: Output[Model]) -> None:
        pass

    @pipeline
    def uses_typo() -> None:
        typo()

    problem = only_problem(compile_error(uses_typo), "unknown_output")
    assert_location(
        problem, pipeline="uses_typo", task=None, file=HERE, line=line_of("unknown-output", HERE)
    )
    assert "assets names unknown output 'modle' of component 'typo'" in problem.message
    assert "(its artifact outputs: model)" in problem.message


def test_component_asset_on_a_parameter_output() -> None:
    @component(assets={"output": "metrics://acc"})  # mark: parameter-output
    def accuracy() -> float:
        return 1.0

    @pipeline
    def uses_accuracy() -> None:
        accuracy()

    problem = only_problem(compile_error(uses_accuracy), "invalid_asset")
    assert_location(
        problem,
        pipeline="uses_accuracy",
        task=None,
        file=HERE,
        line=line_of("parameter-output", HERE),
    )
    assert "output 'output' of component 'accuracy', which is a parameter (float)" in (
        problem.message
    )


# --------------------------------------------------------------------------- task errors


def task_error(build: Any, marker: str, task: str = "load") -> DefinitionError:
    @pipeline
    def with_task() -> None:
        build()

    with pytest.raises(DefinitionError) as info:
        with_task.compile()
    assert_location(
        info.value, pipeline="with_task", task=task, file=HERE, line=line_of(marker, HERE)
    )
    return info.value


def test_bad_pool_name_on_a_task() -> None:
    def build() -> None:
        load().set_pool("gpu/a100")  # mark: task-pool

    error = task_error(build, "task-pool")
    assert "pool must be a name of 1 to 64 letters" in error.message
    assert "got 'gpu/a100'" in error.message


def test_zero_pool_slots_on_a_task() -> None:
    def build() -> None:
        load().set_pool("gpu", slots=0)  # mark: task-slots

    error = task_error(build, "task-slots")
    assert "pool_slots must be a whole number >= 1, got 0" in error.message


def test_non_integer_priority_on_a_task() -> None:
    def build() -> None:
        load().set_priority("urgent")  # type: ignore[arg-type]  # mark: task-priority

    error = task_error(build, "task-priority")
    assert "priority must be a whole number, got 'urgent'" in error.message


def test_task_asset_on_an_unknown_output() -> None:
    def build() -> None:
        load().updates_asset("dataset", "s3://lake/raw")  # mark: task-unknown-output

    error = task_error(build, "task-unknown-output")
    assert error.message == (
        "assets names unknown output 'dataset' of component 'load' (its artifact outputs: data)"
    )


def test_task_asset_on_a_parameter_output() -> None:
    def build() -> None:
        made = load()
        fit(data=made.outputs["data"]).set_options(  # mark: task-parameter-output
            assets={"output": "metrics://fit"}
        )

    error = task_error(build, "task-parameter-output", task="fit")
    assert "output 'output' of component 'fit', which is a parameter (float)" in error.message
    assert "model" in (error.hint or "")


def test_bad_asset_name_on_a_task() -> None:
    def build() -> None:
        load().updates_asset("data", Asset("raw data"))  # mark: task-asset-name

    error = task_error(build, "task-asset-name")
    assert "asset of output 'data': invalid asset name 'raw data'" in error.message


def test_task_notification_on_deadline_missed() -> None:
    def build() -> None:
        load().set_options(notify=Slack("https://hooks.test/T", on="deadline_missed"))  # mark: tn

    error = task_error(build, "tn")
    assert "a task notification cannot fire on 'deadline_missed'" in error.message


def test_task_asset_error_in_a_nested_pipeline_names_it() -> None:
    @pipeline
    def inner() -> None:
        load().updates_asset("nope", "s3://lake/raw")  # mark: nested-asset

    @pipeline
    def outer() -> None:
        inner()

    with pytest.raises(DefinitionError) as info:
        outer.compile()
    assert_location(
        info.value, pipeline="inner", task="load", file=HERE, line=line_of("nested-asset", HERE)
    )


# --------------------------------------------------------------------------- @pipeline errors


def pipeline_error(**metadata: Any) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:

        @pipeline(**metadata)  # mark: pipeline-options
        def scheduled() -> None:
            load()

    assert_location(
        info.value,
        pipeline="scheduled",
        task=None,
        file=HERE,
        line=line_of("pipeline-options", HERE),
    )
    return info.value


def test_mixing_and_and_or_points_at_the_expression() -> None:
    mixed = Asset("s3://lake/a") & Asset("s3://lake/b") | Asset("s3://lake/c")  # mark: mixed

    with pytest.raises(DefinitionError) as info:

        @pipeline(schedule=mixed)
        def mixed_schedule() -> None:
            load()

    error = info.value
    assert_location(
        error, pipeline="mixed_schedule", task=None, file=HERE, line=line_of("mixed", HERE)
    )
    assert error.message == "schedule mixes & (all of) and | (any of) on assets"
    assert "one level only" in (error.hint or "")


def test_mixing_the_other_way_round_inside_the_decorator() -> None:
    either = Asset("s3://lake/a") | Asset("s3://lake/b")
    with pytest.raises(DefinitionError) as info:

        @pipeline(schedule=either & Asset("s3://lake/c"))  # mark: mixed-inline
        def mixed_inline() -> None:
            load()

    assert_location(
        info.value,
        pipeline="mixed_inline",
        task=None,
        file=HERE,
        line=line_of("mixed-inline", HERE),
    )
    assert "mixes & (all of) and | (any of)" in info.value.message


@pytest.mark.parametrize(
    ("schedule", "fragment", "hint"),
    [
        (
            [Asset("s3://lake/a"), Asset("s3://lake/b"), Asset("s3://lake/a")],
            "asset 's3://lake/a' is listed twice in the schedule",
            "list each asset once",
        ),
        (
            Asset("s3://lake/a") | "s3://lake/a",
            "asset 's3://lake/a' is listed twice in the schedule",
            "list each asset once",
        ),
        (Asset("lake"), "schedule: invalid asset name 'lake'", "scheme"),
        (["0 3 * * *"], "schedule: invalid asset name '0 3 * * *'", "one cron string"),
        ([], "schedule is an empty list of assets", "Asset("),
        ([Asset("s3://lake/a"), 3], "a schedule list holds assets, not 3", "Asset("),
        (
            [Asset("s3://lake/a") | Asset("s3://lake/b")],
            "a schedule list holds assets, not & or | conditions",
            "Asset(...) | Asset(...)",
        ),
        (
            "s3://lake/a",
            "schedule 's3://lake/a' looks like an asset name, not a cron expression",
            "schedule=Asset('s3://lake/a')",
        ),
        ({"asset": "s3://lake/a"}, "schedule must be a cron string", "Asset("),
    ],
)
def test_bad_asset_schedule(schedule: Any, fragment: str, hint: str) -> None:
    error = pipeline_error(schedule=schedule)
    assert fragment in error.message
    assert hint in (error.hint or "")


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "4"])
def test_bad_max_active_tasks(value: Any) -> None:
    error = pipeline_error(max_active_tasks=value)
    assert f"max_active_tasks must be a whole number >= 1, got {value!r}" in error.message


def test_assets_in_task_defaults() -> None:
    error = pipeline_error(task_defaults={"assets": {"data": "s3://lake/raw"}})
    assert "task_defaults cannot set assets" in error.message


def test_deadline_missed_in_task_default_notifications() -> None:
    error = pipeline_error(
        task_defaults={"notify": [Slack("https://h.test/T", on=["deadline_missed"])]}
    )
    assert "a task notification cannot fire on 'deadline_missed'" in error.message


def test_deadline_missed_is_fine_on_the_pipeline() -> None:
    @pipeline(deadline="1h", notify=Slack("https://hooks.test/T", on=["deadline_missed"]))
    def watched() -> None:
        load()

    assert watched.compile().notifications[0].on == ["deadline_missed"]


def test_combining_an_asset_with_something_else() -> None:
    with pytest.raises(DefinitionError) as info:
        Asset("s3://lake/a") & 5  # type: ignore[operator]  # mark: combine
    assert_location(info.value, pipeline=None, task=None, file=HERE, line=line_of("combine", HERE))
    assert "assets combine only with other assets, not 5 (int)" in info.value.message


def test_asset_name_must_be_a_string() -> None:
    with pytest.raises(DefinitionError) as info:
        Asset(42)  # type: ignore[arg-type]  # mark: asset-int
    assert_location(
        info.value, pipeline=None, task=None, file=HERE, line=line_of("asset-int", HERE)
    )
    assert "Asset(...) takes a name (str), got 42" in info.value.message
