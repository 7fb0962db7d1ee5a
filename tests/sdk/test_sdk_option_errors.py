"""Bad option values on @component, on task.set_options(...) and on @pipeline metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from markers import assert_location, line_of, same_file

from headwater import component, pipeline
from headwater.errors import DefinitionError

HERE = __file__


@component
def tick() -> None:
    pass


# --------------------------------------------------------------------------- @component


def component_error(**options: Any) -> DefinitionError:
    """The error of decorating a function with @component(**options), checked to point at it."""
    with pytest.raises(DefinitionError) as info:

        @component(**options)  # mark: component-options
        def configured() -> None:
            pass

    error = info.value
    line = line_of("component-options", HERE)
    assert same_file(error.location.file, HERE), str(error)
    assert error.location.line == line, str(error)
    assert f"{Path(HERE).name}:{line}" in str(error)
    return error


def test_component_option_errors_name_the_component() -> None:
    # The decorator line is not always enough: the message says which component is wrong.
    error = component_error(timeout="soon")
    assert "component 'configured'" in str(error), str(error)


def test_negative_retries_on_a_component() -> None:
    error = component_error(retries=-1)
    assert "retries must be a whole number >= 0, got -1" in error.message
    assert error.hint, f"no fix is suggested in: {error}"


def test_timeout_that_is_not_a_duration() -> None:
    error = component_error(timeout="soon")
    assert "timeout 'soon' is not a duration" in error.message
    assert "'5m'" in (error.hint or "")


def test_memory_that_is_not_a_size() -> None:
    error = component_error(memory="lots")
    assert "memory 'lots' is not a size" in error.message
    assert "'512Mi'" in (error.hint or "")


def test_unknown_trigger_rule() -> None:
    error = component_error(trigger_rule="sometimes")
    assert "unknown trigger_rule 'sometimes'" in error.message
    assert "all_success" in (error.hint or "") and "none_failed" in (error.hint or "")


def test_unknown_option_name() -> None:
    error = component_error(retires=3)
    assert "unknown option: retires" in error.message
    assert "retries" in (error.hint or "")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"timeout": 0}, "timeout must be positive, got 0"),
        ({"cpu": -1}, "cpu must be a positive number of cores, got -1"),
        ({"gpu": 1.5}, "gpu must be a whole number of devices >= 0, got 1.5"),
        ({"retry_backoff": 0.5}, "retry_backoff must be True, False or a factor >= 1, got 0.5"),
        ({"cache": "yes"}, "cache must be True or False, got 'yes'"),
        ({"packages": "pandas"}, "packages must be a list of requirement strings"),
        ({"retry_delay": "-5s"}, "retry_delay '-5s' is not a duration"),
    ],
)
def test_other_bad_option_values(options: dict[str, Any], fragment: str) -> None:
    error = component_error(**options)
    assert fragment in error.message
    assert error.hint, f"no fix is suggested in: {error}"


# --------------------------------------------------------------------------- task.set_options


def test_negative_retries_on_a_task() -> None:
    @pipeline
    def task_retries() -> None:
        tick().set_retry(-1)  # mark: task-retries

    with pytest.raises(DefinitionError) as info:
        task_retries.compile()
    assert_location(
        info.value,
        pipeline="task_retries",
        task="tick",
        file=HERE,
        line=line_of("task-retries", HERE),
    )
    assert "retries must be a whole number >= 0, got -1" in info.value.message


def test_bad_timeout_on_a_task() -> None:
    @pipeline
    def task_timeout() -> None:
        tick()
        tick().set_timeout("soon")  # mark: task-timeout

    with pytest.raises(DefinitionError) as info:
        task_timeout.compile()
    assert_location(
        info.value,
        pipeline="task_timeout",
        task="tick-2",
        file=HERE,
        line=line_of("task-timeout", HERE),
    )


def test_bad_memory_on_a_task() -> None:
    @pipeline
    def task_memory() -> None:
        tick().set_memory_limit("lots")  # mark: task-memory

    with pytest.raises(DefinitionError) as info:
        task_memory.compile()
    assert_location(
        info.value,
        pipeline="task_memory",
        task="tick",
        file=HERE,
        line=line_of("task-memory", HERE),
    )


def test_bad_trigger_rule_on_a_task() -> None:
    @pipeline
    def task_trigger() -> None:
        tick().set_trigger_rule("sometimes")  # mark: task-trigger

    with pytest.raises(DefinitionError) as info:
        task_trigger.compile()
    assert_location(
        info.value,
        pipeline="task_trigger",
        task="tick",
        file=HERE,
        line=line_of("task-trigger", HERE),
    )
    assert "unknown trigger_rule 'sometimes'" in info.value.message


def test_unknown_option_on_a_task() -> None:
    @pipeline
    def task_unknown() -> None:
        tick().set_options(colour="red")  # mark: task-unknown

    with pytest.raises(DefinitionError) as info:
        task_unknown.compile()
    assert_location(
        info.value,
        pipeline="task_unknown",
        task="tick",
        file=HERE,
        line=line_of("task-unknown", HERE),
    )
    assert "unknown option: colour" in info.value.message


# --------------------------------------------------------------------------- @pipeline


def pipeline_error(marker: str, **metadata: Any) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:

        @pipeline(**metadata)  # mark: pipeline-options
        def scheduled() -> None:
            tick()

    error = info.value
    assert_location(error, pipeline="scheduled", task=None, file=HERE, line=line_of(marker, HERE))
    return error


def test_bad_task_default() -> None:
    error = pipeline_error("pipeline-options", task_defaults={"retries": "many"})
    assert "retries must be a whole number >= 0, got 'many'" in error.message


def test_start_date_that_is_not_a_date() -> None:
    error = pipeline_error("pipeline-options", start_date="next tuesday")
    assert "start_date 'next tuesday' is not an ISO date or datetime" in error.message


def test_zero_max_active_runs() -> None:
    error = pipeline_error("pipeline-options", max_active_runs=0)
    assert "max_active_runs must be a whole number >= 1, got 0" in error.message


def test_tags_given_as_one_string() -> None:
    error = pipeline_error("pipeline-options", tags="nightly")
    assert "tags must be a list of str" in error.message


def test_deadline_that_is_not_a_duration() -> None:
    error = pipeline_error("pipeline-options", deadline="tomorrow")
    assert "deadline 'tomorrow' is not a duration" in error.message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({}, "resources must be a non-empty dict"),
        (["special"], "resources must be a non-empty dict"),
        ({"has space": 1}, "resource name 'has space' is not a name"),
        ({"CPU": 2}, "resources names 'CPU', which is not a custom resource"),
        ({"special": 0}, "resource 'special' needs a positive amount, got 0"),
        ({"special": True}, "resource 'special' needs a positive amount, got True"),
    ],
)
def test_custom_resources_that_are_not_names_and_amounts(value: Any, says: str) -> None:
    error = component_error(resources=value)
    assert says in error.message
    assert error.hint, f"no fix is suggested in: {error}"


def test_custom_resources_reach_the_spec() -> None:
    @component(resources={"special": 1, "fast_disk": 0.5})
    def placed() -> None:
        pass

    @pipeline
    def uses_it():
        placed()

    spec = uses_it.compile()
    res = spec.components["placed"].options.resources
    assert res is not None and res.custom == {"special": 1.0, "fast_disk": 0.5}


# --------------------------------------------------------------------------- nested pipelines


def test_a_pipeline_with_task_defaults_cannot_be_used_as_a_step() -> None:
    # Its tasks get the options of the pipeline that runs: its own defaults would be
    # silently dropped.
    @pipeline(task_defaults={"retries": 2, "timeout": "5m"})
    def inner_defaults() -> None:
        tick()

    @pipeline
    def outer_defaults() -> None:
        inner_defaults()

    with pytest.raises(DefinitionError) as info:
        outer_defaults.compile()
    error = info.value
    assert error.message == (
        "pipeline 'inner_defaults' sets task_defaults (retries, timeout), which do not "
        "reach its tasks when it runs as a step of pipeline 'outer_defaults'"
    )
    assert error.hint is not None and "task_defaults of pipeline 'outer_defaults'" in error.hint
    assert error.location.pipeline == "inner_defaults"


def test_a_pipeline_without_task_defaults_is_a_step_like_any_other() -> None:
    @pipeline
    def inner_plain() -> None:
        tick()

    @pipeline
    def outer_plain() -> None:
        inner_plain()

    assert "inner_plain" in outer_plain.compile().components
