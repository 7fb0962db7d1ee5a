"""Names of pipelines, components, tasks and groups: valid characters, no duplicates."""

from __future__ import annotations

from markers import assert_location, compile_error, line_of, only_problem

from headwater import ParallelFor, component, pipeline

HERE = __file__


@component
def tick() -> None:
    pass


def test_invalid_pipeline_name_is_reported_once_with_a_fix() -> None:
    @pipeline(name="bad name!")  # mark: bad-pipeline-name
    def badly_named() -> None:
        tick()

    problem = only_problem(compile_error(badly_named), "invalid_name")
    assert_location(
        problem, pipeline="bad name!", task=None, file=HERE, line=line_of("bad-pipeline-name", HERE)
    )
    assert "invalid pipeline name 'bad name!'" in problem.message


def test_invalid_component_name_is_reported_with_a_fix() -> None:
    @component(name="bad name!")  # mark: bad-component-name
    def badly_named_component() -> None:
        pass

    @pipeline
    def uses_bad_component() -> None:
        badly_named_component()  # mark: bad-component-task

    error = compile_error(uses_bad_component)
    assert error.problems
    for problem in error.problems:
        assert problem.code == "invalid_name"
        assert "'bad name!'" in problem.message
        assert problem.hint, f"no fix is suggested in: {problem}"
    component_problems = [p for p in error.problems if "component name" in p.message]
    assert len(component_problems) == 1, str(error)
    assert_location(
        component_problems[0],
        pipeline="uses_bad_component",
        task=None,
        file=HERE,
        line=line_of("bad-component-name", HERE),
    )


def test_invalid_environment_variable_name() -> None:
    @pipeline
    def bad_env() -> None:
        tick().set_env_variable("1ST", "x")  # mark: bad-env

    problem = only_problem(compile_error(bad_env), "invalid_name")
    assert_location(
        problem, pipeline="bad_env", task="tick", file=HERE, line=line_of("bad-env", HERE)
    )
    assert "invalid environment variable name '1ST'" in problem.message


def test_group_name_that_is_not_valid() -> None:
    @pipeline
    def bad_group() -> None:
        with ParallelFor([1], name="fan out"):  # mark: bad-group
            tick()

    problem = only_problem(compile_error(bad_group), "invalid_name")
    assert_location(
        problem, pipeline="bad_group", task="fan out", file=HERE, line=line_of("bad-group", HERE)
    )
    assert "invalid task name 'fan out'" in problem.message
