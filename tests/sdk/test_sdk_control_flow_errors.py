"""Python control flow on run-time values, and control-flow blocks used out of place."""

from __future__ import annotations

import pytest
from markers import assert_location, definition_error, line_of

from headwater import (
    Elif,
    Else,
    ExitHandler,
    FinalStatus,
    If,
    ParallelFor,
    component,
    pipeline,
)
from headwater.errors import PipelineDefinitionError

HERE = __file__


@component
def score() -> float:
    return 0.5


@component
def items() -> list[int]:
    return [1, 2]


@component
def work(n: int = 0) -> None:
    pass


@component
def on_exit(status: FinalStatus) -> None:
    pass


# --------------------------------------------------------------------------- run-time values


def test_python_if_on_a_task_output() -> None:
    @pipeline
    def python_if() -> None:
        s = score()
        if s.output:  # mark: python-if
            work()

    error = definition_error(python_if)
    assert_location(
        error, pipeline="python_if", task=..., file=HERE, line=line_of("python-if", HERE)
    )
    assert "output 'output' of task 'score' has no value while the pipeline is being defined" in (
        error.message
    )
    assert "with headwater.If(" in (error.hint or "")


def test_python_if_on_a_comparison() -> None:
    @pipeline
    def python_if_cmp() -> None:
        s = score()
        if s.output > 0.9:  # mark: python-if-cmp
            work()

    error = definition_error(python_if_cmp)
    assert_location(
        error, pipeline="python_if_cmp", task=..., file=HERE, line=line_of("python-if-cmp", HERE)
    )
    assert "cannot be tested with Python 'if'" in error.message


def test_python_and_on_a_parameter() -> None:
    @pipeline
    def python_and(flag: bool = True) -> None:
        if flag and True:  # mark: python-and
            work()

    error = definition_error(python_and)
    assert_location(
        error, pipeline="python_and", task=..., file=HERE, line=line_of("python-and", HERE)
    )
    assert "pipeline parameter 'flag' has no value" in error.message


def test_iterating_a_task_output() -> None:
    @pipeline
    def python_for() -> None:
        xs = items()
        for n in xs.output:  # mark: python-for
            work(n=n)

    error = definition_error(python_for)
    assert_location(
        error, pipeline="python_for", task=..., file=HERE, line=line_of("python-for", HERE)
    )
    assert "output 'output' of task 'items'" in error.message
    assert "cannot be iterated" in error.message
    assert "ParallelFor" in (error.hint or "")


def test_if_on_a_plain_python_value() -> None:
    @pipeline
    def constant_if() -> None:
        with If(True):  # mark: constant-if
            work()

    error = definition_error(constant_if)
    assert_location(
        error, pipeline="constant_if", task=..., file=HERE, line=line_of("constant-if", HERE)
    )
    assert "If(...) needs a condition on task outputs or parameters, got True" in error.message


# --------------------------------------------------------------------------- If / Elif / Else


def test_elif_without_if() -> None:
    @pipeline
    def lone_elif() -> None:
        s = score()
        with Elif(s.output > 0.5):  # mark: lone-elif
            work()

    error = definition_error(lone_elif)
    assert_location(
        error, pipeline="lone_elif", task=..., file=HERE, line=line_of("lone-elif", HERE)
    )
    assert "Elif must come right after an If or Elif block" in error.message


def test_else_without_if() -> None:
    @pipeline
    def lone_else() -> None:
        with Else():  # mark: lone-else
            work()

    error = definition_error(lone_else)
    assert_location(
        error, pipeline="lone_else", task=..., file=HERE, line=line_of("lone-else", HERE)
    )
    assert "Else must come right after an If or Elif block" in error.message


def test_else_after_a_task_that_follows_the_if() -> None:
    @pipeline
    def detached_else() -> None:
        s = score()
        with If(s.output > 0.5):
            work()
        work()
        with Else():  # mark: detached-else
            work()

    error = definition_error(detached_else)
    assert_location(
        error, pipeline="detached_else", task=..., file=HERE, line=line_of("detached-else", HERE)
    )


def test_elif_after_else() -> None:
    @pipeline
    def elif_after_else() -> None:
        s = score()
        with If(s.output > 0.5):
            work()
        with Else():
            work()
        with Elif(s.output > 0.1):  # mark: elif-after-else
            work()

    error = definition_error(elif_after_else)
    assert_location(
        error,
        pipeline="elif_after_else",
        task=...,
        file=HERE,
        line=line_of("elif-after-else", HERE),
    )
    assert "Elif cannot follow an Else block" in error.message


def test_else_after_else() -> None:
    @pipeline
    def two_elses() -> None:
        s = score()
        with If(s.output > 0.5):
            work()
        with Else():
            work()
        with Else():  # mark: second-else
            work()

    error = definition_error(two_elses)
    assert_location(
        error, pipeline="two_elses", task=..., file=HERE, line=line_of("second-else", HERE)
    )
    assert "Else cannot follow an Else block" in error.message


# --------------------------------------------------------------------------- outside a pipeline


def test_component_called_outside_a_pipeline() -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        work(n=1)  # mark: component-outside

    error = info.value
    assert_location(
        error, pipeline=None, task=None, file=HERE, line=line_of("component-outside", HERE)
    )
    assert "component 'work' was called outside a pipeline" in error.message
    assert "work.python_func(...)" in (error.hint or "")


def test_pipeline_called_outside_a_pipeline() -> None:
    @pipeline
    def standalone() -> None:
        work()

    with pytest.raises(PipelineDefinitionError) as info:
        standalone()  # mark: pipeline-outside

    error = info.value
    assert_location(
        error, pipeline=None, task=None, file=HERE, line=line_of("pipeline-outside", HERE)
    )
    assert "pipeline 'standalone' was called outside a pipeline" in error.message


def test_parallel_for_outside_a_pipeline() -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        ParallelFor([1, 2])  # mark: loop-outside

    error = info.value
    assert_location(error, pipeline=None, task=None, file=HERE, line=line_of("loop-outside", HERE))
    assert error.message.startswith("ParallelFor(...) was used outside a pipeline"), error.message


def test_if_outside_a_pipeline() -> None:
    @pipeline
    def source() -> None:
        score()

    builder, _ = source.graph()
    task = builder.nodes[0]
    with pytest.raises(PipelineDefinitionError) as info:
        If(task.output > 1)  # type: ignore[attr-defined]  # mark: if-outside

    error = info.value
    assert_location(error, pipeline=None, task=None, file=HERE, line=line_of("if-outside", HERE))
    assert error.message.startswith("If(...) was used outside a pipeline")


# --------------------------------------------------------------------------- ExitHandler


def test_exit_task_created_in_another_block() -> None:
    @pipeline
    def exit_elsewhere() -> None:
        done = on_exit()
        s = score()
        with If(s.output > 0.5), ExitHandler(done):  # mark: exit-elsewhere
            work()

    error = definition_error(exit_elsewhere)
    assert_location(
        error,
        pipeline="exit_elsewhere",
        task="on_exit",
        file=HERE,
        line=line_of("exit-elsewhere", HERE),
    )
    assert "exit task 'on_exit' must be created just before the ExitHandler" in error.message


def test_exit_handler_given_a_function() -> None:
    @pipeline
    def exit_not_task() -> None:
        with ExitHandler(on_exit):  # type: ignore[arg-type]  # mark: exit-not-task
            work()

    error = definition_error(exit_not_task)
    assert_location(
        error, pipeline="exit_not_task", task=..., file=HERE, line=line_of("exit-not-task", HERE)
    )
    assert "ExitHandler(...) takes a task, got Component" in error.message


# --------------------------------------------------------------------------- ParallelFor


def test_parallel_for_over_a_constant_that_is_not_a_list() -> None:
    @pipeline
    def loop_over_int() -> None:
        with ParallelFor(3) as n:  # mark: loop-over-int
            work(n=n)

    error = definition_error(loop_over_int)
    assert_location(
        error, pipeline="loop_over_int", task=..., file=HERE, line=line_of("loop-over-int", HERE)
    )
    assert "ParallelFor items must be a list, got int" in error.message


def test_parallel_for_with_zero_parallelism() -> None:
    @pipeline
    def zero_parallelism() -> None:
        with ParallelFor([1, 2], parallelism=0) as n:  # mark: zero-parallelism
            work(n=n)

    error = definition_error(zero_parallelism)
    assert_location(
        error,
        pipeline="zero_parallelism",
        task=...,
        file=HERE,
        line=line_of("zero-parallelism", HERE),
    )
    assert "parallelism must be a whole number >= 1, got 0" in error.message
