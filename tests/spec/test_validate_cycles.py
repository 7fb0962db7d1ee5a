"""Cycles are compile errors that name the task, its file and line, and how to break them."""

from __future__ import annotations

from pathlib import Path

from markers import assert_location, compile_error, line_of, only_problem

from headwater import ExitHandler, FinalStatus, If, ParallelFor, component, pipeline
from headwater.sdk import load_pipeline

HERE = __file__


@component
def step() -> None:
    pass


@component
def produce() -> int:
    return 1


@component
def consume(x: int) -> int:
    return x


@component
def on_exit(status: FinalStatus) -> None:
    pass


def test_two_tasks_after_each_other() -> None:
    @pipeline
    def after_cycle() -> None:
        a = step()  # mark: after-a
        b = step()  # mark: after-b
        a.after(b)
        b.after(a)

    problem = only_problem(compile_error(after_cycle), "cycle")
    lines = {"step": line_of("after-a", HERE), "step-2": line_of("after-b", HERE)}
    task = problem.location.task
    assert task in lines
    assert_location(problem, pipeline="after_cycle", task=task, file=HERE, line=lines[task])
    assert "tasks form a cycle" in problem.message
    assert "step -> step-2 -> step" in problem.message or "step-2 -> step -> step-2" in (
        problem.message
    )
    assert ".after(" in (problem.hint or "")


def test_cycle_mixing_data_and_after() -> None:
    @pipeline
    def mixed_cycle() -> None:
        source = produce()  # mark: mixed-source
        sink = consume(x=source.output)  # mark: mixed-sink
        source.after(sink)

    problem = only_problem(compile_error(mixed_cycle), "cycle")
    lines = {"produce": line_of("mixed-source", HERE), "consume": line_of("mixed-sink", HERE)}
    task = problem.location.task
    assert task in lines
    assert_location(problem, pipeline="mixed_cycle", task=task, file=HERE, line=lines[task])
    assert "produce" in problem.message and "consume" in problem.message


def test_three_task_cycle_through_data() -> None:
    @pipeline
    def long_cycle() -> None:
        a = produce()  # mark: long-a
        b = consume(x=a.output)  # mark: long-b
        c = consume(x=b.output)  # mark: long-c
        a.after(c)

    problem = only_problem(compile_error(long_cycle), "cycle")
    lines = {
        "produce": line_of("long-a", HERE),
        "consume": line_of("long-b", HERE),
        "consume-2": line_of("long-c", HERE),
    }
    task = problem.location.task
    assert task in lines
    assert_location(problem, pipeline="long_cycle", task=task, file=HERE, line=lines[task])
    for name in lines:
        assert name in problem.message


def test_task_after_itself() -> None:
    @pipeline
    def self_cycle() -> None:
        a = step()  # mark: self
        a.after(a)

    problem = only_problem(compile_error(self_cycle), "cycle")
    assert_location(
        problem, pipeline="self_cycle", task="step", file=HERE, line=line_of("self", HERE)
    )
    assert "itself" in problem.message


def test_task_after_its_own_loop() -> None:
    @pipeline
    def loop_cycle() -> None:
        loop = ParallelFor([1, 2], name="fan")
        with loop as item:
            inner = consume(x=item)  # mark: loop-inner
            inner.after(loop.group)

    problem = only_problem(compile_error(loop_cycle), "cycle")
    assert_location(
        problem, pipeline="loop_cycle", task="consume", file=HERE, line=line_of("loop-inner", HERE)
    )
    assert "depends on its enclosing group 'fan'" in problem.message


def test_task_after_its_own_exit_handler() -> None:
    @pipeline
    def exit_cycle() -> None:
        handler = ExitHandler(on_exit())
        with handler:
            guarded = step()  # mark: exit-inner
            guarded.after(handler.group)

    problem = only_problem(compile_error(exit_cycle), "cycle")
    assert_location(
        problem, pipeline="exit_cycle", task="step", file=HERE, line=line_of("exit-inner", HERE)
    )
    assert "enclosing group 'exit-handler-1'" in problem.message


def test_cycle_in_a_shared_pipeline_file() -> None:
    path = Path(HERE).parents[1] / "pipelines" / "broken_cycle.py"
    p = load_pipeline(str(path))
    problem = only_problem(compile_error(p), "cycle")
    lines = {"step": line_of("first", path), "step-2": line_of("second", path)}
    task = problem.location.task
    assert task in lines
    assert_location(problem, pipeline="broken_cycle", task=task, file=path, line=lines[task])


def test_loop_after_a_task_inside_it() -> None:
    @pipeline
    def group_cycle() -> None:
        loop = ParallelFor([1, 2], name="fan")  # mark: group-loop
        with loop as item:
            inner = consume(x=item)
        loop.group.after(inner)

    problem = only_problem(compile_error(group_cycle), "cycle")
    assert_location(
        problem, pipeline="group_cycle", task="fan", file=HERE, line=line_of("group-loop", HERE)
    )
    assert "group 'fan' depends on 'consume', which is inside it" in problem.message


def test_task_after_its_own_if_block() -> None:
    @pipeline
    def if_cycle() -> None:
        n = produce()
        gate = If(n.output > 1, name="gate")
        with gate:
            inner = consume(x=n.output)  # mark: if-inner
            inner.after(gate)

    problem = only_problem(compile_error(if_cycle), "cycle")
    assert_location(
        problem, pipeline="if_cycle", task="consume", file=HERE, line=line_of("if-inner", HERE)
    )
    assert "'consume' depends on its enclosing group 'gate'" in problem.message


def test_task_after_a_parallel_for_block_it_is_in() -> None:
    @pipeline
    def block_cycle() -> None:
        loop = ParallelFor([1, 2], name="fan")
        with loop as item:
            inner = consume(x=item)  # mark: block-inner
            inner.after(loop)

    problem = only_problem(compile_error(block_cycle), "cycle")
    assert_location(
        problem,
        pipeline="block_cycle",
        task="consume",
        file=HERE,
        line=line_of("block-inner", HERE),
    )
