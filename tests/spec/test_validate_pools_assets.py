"""Pools, priorities, assets, task notifications and asset schedules in spec documents.

Documents edited by hand or by another tool are held to the same rules as compiled
ones: each test breaks one rule and checks that ``validate`` names the pipeline, the
task, the file and line the document records, and suggests a fix.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from typing import Any

import pytest

from headwater.errors import Problem, SpecError, ValidationError
from headwater.spec import (
    SCHEMA_VERSION,
    NotificationSpec,
    PipelineSpec,
    ScheduleSpec,
    TaskOptions,
    dumps,
    from_data,
    json_schema,
    loads,
    validate,
)

FILE = "flows/assets.py"
TASK_LINE = 12
COMPONENT_LINE = 5
PIPELINE_LINE = 9


def document(
    task_options: dict[str, Any] | None = None,
    component_options: dict[str, Any] | None = None,
    **pipeline: Any,
) -> dict[str, Any]:
    """A pipeline of one task 'train' of component 'train' (outputs: model, accuracy)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "name": "assets_flow",
        "root": {
            "name": "assets_flow",
            "implementation": {
                "type": "dag",
                "dag": {
                    "nodes": [
                        {
                            "kind": "task",
                            "name": "train",
                            "component": "train",
                            "options": task_options or {},
                            "source": {"file": FILE, "line": TASK_LINE},
                        }
                    ]
                },
            },
            "source": {"file": FILE, "line": PIPELINE_LINE},
        },
        "components": {
            "train": {
                "name": "train",
                "outputs": {
                    "model": {"kind": "artifact", "artifact_type": "headwater.Model"},
                    "accuracy": {"kind": "parameter", "type": {"kind": "float"}},
                },
                "implementation": {
                    "type": "python",
                    "module": "assets",
                    "function": "train",
                    "file": FILE,
                    "code_digest": "sha256:0",
                    "returns": "single",
                    "return_outputs": ["accuracy"],
                },
                "options": component_options or {},
                "source": {"file": FILE, "line": COMPONENT_LINE},
            }
        },
        "artifact_types": {
            "headwater.Artifact": {"schema_title": "headwater.Artifact"},
            "headwater.Model": {
                "schema_title": "headwater.Model",
                "bases": ["headwater.Artifact"],
            },
        },
        "source": {"file": FILE, "line": PIPELINE_LINE},
        **pipeline,
    }


def only_problem(data: dict[str, Any], code: str) -> Problem:
    spec = from_data(copy.deepcopy(data))
    with pytest.raises(ValidationError) as info:
        validate(spec)
    problems = info.value.problems
    assert len(problems) == 1, f"expected one problem, got:\n{info.value}"
    assert problems[0].code == code, str(problems[0])
    return problems[0]


def assert_at(problem: Problem, *, task: str | None, line: int) -> None:
    loc = problem.location
    assert loc.pipeline == "assets_flow", str(problem)
    assert loc.task == task, str(problem)
    assert (loc.file, loc.line) == (FILE, line), str(problem)
    assert f"{FILE}:{line}" in str(problem)
    assert problem.hint, f"no fix is suggested in: {problem}"


# --------------------------------------------------------------------------- valid documents


def test_every_new_field_validates_and_round_trips() -> None:
    data = document(
        task_options={
            "pool": "gpu",
            "pool_slots": 2,
            "priority": -3,
            "assets": {"model": "models://churn"},
            "notifications": [
                {"kind": "slack", "target": "https://hooks.test/T", "on": ["success", "retry"]}
            ],
        },
        component_options={"pool": "cpu.small", "priority": 7},
        schedule={
            "kind": "assets",
            "assets": ["s3://lake/features", "s3://lake/labels"],
            "asset_mode": "any",
        },
        max_active_tasks=4,
        task_defaults={
            "pool": "default_pool",
            "notifications": [{"kind": "callable", "target": "m:f"}],
        },
    )
    spec = validate(from_data(data))
    assert loads(dumps(spec)) == spec
    assert loads(dumps(spec, format="yaml")) == spec
    task = spec.dag.nodes[0]
    assert task.kind == "task"
    assert task.options.pool == "gpu"
    assert task.options.pool_slots == 2
    assert task.options.priority == -3
    assert task.options.assets == {"model": "models://churn"}
    assert task.options.notifications == [
        NotificationSpec(kind="slack", target="https://hooks.test/T", on=["success", "retry"])
    ]
    assert spec.max_active_tasks == 4
    assert spec.schedule == ScheduleSpec(
        kind="assets", assets=["s3://lake/features", "s3://lake/labels"], asset_mode="any"
    )


def test_a_document_without_the_new_fields_still_loads_and_keeps_its_digest() -> None:
    from headwater.spec import digest, to_data

    spec = validate(from_data(document()))
    assert spec.max_active_tasks is None
    options = spec.dag.nodes[0].options
    assert isinstance(options, TaskOptions)
    assert (options.pool, options.pool_slots, options.priority) == (None, None, None)
    assert (options.assets, options.notifications) == (None, None)
    # Unset new fields are left out of the document, so older digests do not move.
    text = json.dumps(to_data(spec))
    for name in ("pool", "priority", "assets", "notifications", "max_active_tasks"):
        assert f'"{name}":' not in text
    assert digest(from_data(to_data(spec))) == digest(spec)


def test_asset_names_may_use_any_scheme_and_path() -> None:
    for name in (
        "s3://bucket/a/b.parquet",
        "models://churn",
        "x-y+z.w://a?b=c#d",
        "a://" + "x" * 507,
    ):
        spec = validate(from_data(document(task_options={"assets": {"model": name}})))
        assert spec.dag.nodes[0].options.assets == {"model": name}


# --------------------------------------------------------------------------- overlay


def test_overlay_takes_the_new_fields_from_the_top_when_set() -> None:
    slack = NotificationSpec(kind="slack", target="https://hooks.test/T")
    base = TaskOptions(
        pool="cpu",
        pool_slots=2,
        priority=1,
        assets={"model": "a://x", "data": "a://d"},
        notifications=[slack],
    )
    top = TaskOptions(pool="gpu", assets={"model": "a://y"}, notifications=[])
    merged = base.overlay(top)
    assert merged.pool == "gpu"
    assert merged.pool_slots == 2
    assert merged.priority == 1
    # Top wins as a whole: assets and notifications are not merged key by key.
    assert merged.assets == {"model": "a://y"}
    assert merged.notifications == []
    assert base.overlay(TaskOptions()) == base
    assert TaskOptions().overlay(base) == base


# --------------------------------------------------------------------------- pools


@pytest.mark.parametrize("pool", ["", "has space", "x" * 65, "slash/pool", "gpu\n"])
def test_bad_pool_name_on_a_task(pool: str) -> None:
    problem = only_problem(document(task_options={"pool": pool}), "invalid_name")
    assert_at(problem, task="train", line=TASK_LINE)
    assert problem.message == f"invalid pool name {pool!r}"
    assert "1 to 64" in (problem.hint or "")


def test_bad_pool_name_on_a_component() -> None:
    problem = only_problem(document(component_options={"pool": "gpu pool"}), "invalid_name")
    assert_at(problem, task=None, line=COMPONENT_LINE)
    assert "invalid pool name 'gpu pool'" in problem.message


def test_bad_pool_name_in_task_defaults() -> None:
    problem = only_problem(document(task_defaults={"pool": "a*b"}), "invalid_name")
    assert_at(problem, task=None, line=PIPELINE_LINE)


def test_pool_slots_below_one_is_refused_when_loading() -> None:
    with pytest.raises(SpecError) as info:
        from_data(document(task_options={"pool": "gpu", "pool_slots": 0}))
    assert "pool_slots" in str(info.value)
    assert "greater than or equal to 1" in str(info.value)


def test_max_active_tasks_below_one_is_refused_when_loading() -> None:
    with pytest.raises(SpecError) as info:
        from_data(document(max_active_tasks=0))
    assert "max_active_tasks" in str(info.value)


def test_priority_must_be_an_integer_when_loading() -> None:
    with pytest.raises(SpecError) as info:
        from_data(document(task_options={"priority": "high"}))
    assert "priority" in str(info.value)


# --------------------------------------------------------------------------- task assets


def test_asset_on_an_unknown_output() -> None:
    problem = only_problem(
        document(task_options={"assets": {"modle": "models://churn"}}), "unknown_output"
    )
    assert_at(problem, task="train", line=TASK_LINE)
    assert problem.message == (
        "assets names unknown output 'modle' of component 'train' (its artifact outputs: model)"
    )


def test_asset_on_a_parameter_output() -> None:
    problem = only_problem(
        document(task_options={"assets": {"accuracy": "metrics://acc"}}), "invalid_asset"
    )
    assert_at(problem, task="train", line=TASK_LINE)
    assert "output 'accuracy' of component 'train', which is a parameter (float)" in (
        problem.message
    )
    assert "Output[Model]" in (problem.hint or "")


def test_asset_on_an_unknown_output_of_the_component() -> None:
    problem = only_problem(
        document(component_options={"assets": {"weights": "models://churn"}}), "unknown_output"
    )
    assert_at(problem, task=None, line=COMPONENT_LINE)
    assert "unknown output 'weights'" in problem.message


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("churn-model", "invalid asset name 'churn-model'"),
        ("s3://bucket/with space", "invalid asset name 's3://bucket/with space'"),
        ("3d://x", "invalid asset name '3d://x'"),
        ("s3://", "invalid asset name 's3://'"),
        ("s3://x\n", "invalid asset name 's3://x\\n'"),
        ("a://" + "x" * 509, "asset name is 513 characters long (at most 512)"),
    ],
)
def test_bad_asset_name_on_a_task(name: str, fragment: str) -> None:
    problem = only_problem(document(task_options={"assets": {"model": name}}), "invalid_asset")
    assert_at(problem, task="train", line=TASK_LINE)
    assert fragment in problem.message
    assert "scheme" in (problem.hint or "")


def test_assets_in_task_defaults() -> None:
    problem = only_problem(
        document(task_defaults={"assets": {"model": "models://churn"}}), "invalid_asset"
    )
    assert_at(problem, task=None, line=PIPELINE_LINE)
    assert "task_defaults cannot set assets" in problem.message


# --------------------------------------------------------------------------- notifications


def test_task_notification_on_deadline_missed() -> None:
    notify = [{"kind": "webhook", "target": "https://hooks.test/x", "on": ["deadline_missed"]}]
    problem = only_problem(document(task_options={"notifications": notify}), "invalid_notification")
    assert_at(problem, task="train", line=TASK_LINE)
    assert "a task notification cannot fire on 'deadline_missed'" in problem.message
    assert "@pipeline(notify=" in (problem.hint or "")


def test_deadline_missed_in_task_default_notifications() -> None:
    notify = [{"kind": "callable", "target": "m:f", "on": ["failure", "deadline_missed"]}]
    problem = only_problem(
        document(task_defaults={"notifications": notify}), "invalid_notification"
    )
    assert_at(problem, task=None, line=PIPELINE_LINE)


def test_deadline_missed_stays_fine_on_the_pipeline() -> None:
    notify = [{"kind": "webhook", "target": "https://hooks.test/x", "on": ["deadline_missed"]}]
    validate(from_data(document(notifications=notify, deadline_seconds=60)))


def test_bad_task_notification_target() -> None:
    notify = [{"kind": "email", "target": "nobody", "on": ["failure"]}]
    problem = only_problem(document(task_options={"notifications": notify}), "invalid_notification")
    assert_at(problem, task="train", line=TASK_LINE)
    assert "email notification target 'nobody' is not an email address" in problem.message


# --------------------------------------------------------------------------- asset schedules


def test_asset_listed_twice_in_the_schedule() -> None:
    schedule = {"kind": "assets", "assets": ["s3://lake/a", "s3://lake/b", "s3://lake/a"]}
    problem = only_problem(document(schedule=schedule), "invalid_schedule")
    assert_at(problem, task=None, line=PIPELINE_LINE)
    assert problem.message == "asset 's3://lake/a' is listed twice in the schedule"


def test_bad_asset_name_in_the_schedule() -> None:
    schedule = {"kind": "assets", "assets": ["lake features"]}
    problem = only_problem(document(schedule=schedule), "invalid_schedule")
    assert_at(problem, task=None, line=PIPELINE_LINE)
    assert "invalid asset name 'lake features'" in problem.message


@pytest.mark.parametrize(
    ("schedule", "fragment"),
    [
        ({"kind": "assets"}, "an assets schedule needs a non-empty 'assets' list"),
        ({"kind": "assets", "assets": []}, "an assets schedule needs a non-empty 'assets' list"),
        (
            {"kind": "assets", "assets": ["a://x"], "cron": "@daily"},
            "an assets schedule takes no 'cron' or 'interval_seconds'",
        ),
        (
            {"kind": "cron", "cron": "@daily", "assets": ["a://x"]},
            "'assets' is only for assets schedules, not cron",
        ),
        (
            {"kind": "interval", "interval_seconds": 60, "assets": ["a://x"]},
            "'assets' is only for assets schedules, not interval",
        ),
        ({"kind": "once", "asset_mode": "any"}, "'asset_mode' is only for assets schedules"),
        ({"kind": "assets", "assets": ["a://x"], "asset_mode": "some"}, "asset_mode"),
    ],
)
def test_schedule_shape_is_checked_when_loading(schedule: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        from_data(document(schedule=schedule))
    assert fragment in str(info.value)


def test_a_cron_schedule_dumped_with_defaults_still_loads() -> None:
    # Tools (and the scheduler's edited settings) dump specs with every default spelled
    # out; asset_mode="all" and assets=[] on a cron schedule must load again.
    spec = from_data(document(schedule={"kind": "cron", "cron": "@daily"}))
    again = PipelineSpec.model_validate(spec.model_dump(mode="json"))
    assert again == spec


# --------------------------------------------------------------------------- schema and rules


def test_json_schema_lists_the_new_fields() -> None:
    schema = json_schema()
    defs = schema["$defs"]
    options = defs["TaskOptions"]["properties"]
    for name in ("pool", "pool_slots", "priority", "assets", "notifications"):
        assert name in options, name
    assert "max_active_tasks" in schema["properties"]
    schedule = defs["ScheduleSpec"]["properties"]
    assert "assets" in schedule["kind"]["enum"]
    assert schedule["asset_mode"]["enum"] == ["all", "any"]
    assert "assets" in schedule


def test_spec_schema_command_prints_the_new_fields() -> None:
    code = "import sys; from headwater.cli import run; sys.argv[1:] = ['spec-schema']; run()"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    schema = json.loads(result.stdout)
    assert "pool_slots" in schema["$defs"]["TaskOptions"]["properties"]
    assert "notifications" in schema["$defs"]["TaskOptions"]["properties"]
    assert "max_active_tasks" in schema["properties"]
    assert "asset_mode" in schema["$defs"]["ScheduleSpec"]["properties"]


def test_sdk_keeps_the_same_name_rules_as_the_validator() -> None:
    from headwater.sdk import _assets, _options
    from headwater.spec._validate import _common

    assert _options.POOL_RE.pattern == _common.POOL_RE.pattern
    assert _assets.ASSET_RE.pattern == _common.ASSET_RE.pattern
    assert _assets.ASSET_MAX_LENGTH == _common.ASSET_MAX_LENGTH
    for name in ("a://b", "a://", "A1+.-://x y", "s3://x\n", "://x", "a:/b"):
        assert _assets.asset_error(name) == _common.asset_error(name), name
    assert re.fullmatch(_common.POOL_RE, "default_pool")
