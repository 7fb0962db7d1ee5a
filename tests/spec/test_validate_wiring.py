"""Wiring rules: required inputs, loop and branch scopes, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

from markers import assert_location, compile_error, line_of, only_problem

from headwater import Collected, Elif, Else, If, ParallelFor, component, pipeline
from headwater.sdk import load_pipeline

HERE = __file__
PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


@component
def number() -> int:
    return 1


@component
def twice(n: int) -> int:
    return 2 * n


@component
def total(values: list[int]) -> int:
    return sum(values)


# --------------------------------------------------------------------------- required inputs


def test_missing_required_input() -> None:
    @pipeline
    def missing() -> None:
        twice()  # mark: missing

    problem = only_problem(compile_error(missing), "missing_input")
    assert_location(
        problem, pipeline="missing", task="twice", file=HERE, line=line_of("missing", HERE)
    )
    assert "missing required input 'n' (int) of component 'twice'" in problem.message
    assert "n=..." in (problem.hint or "")


def test_missing_input_names_the_second_call_of_a_component() -> None:
    @pipeline
    def second_call() -> None:
        twice(n=1)
        twice()  # mark: second-call

    problem = only_problem(compile_error(second_call), "missing_input")
    assert_location(
        problem,
        pipeline="second_call",
        task="twice-2",
        file=HERE,
        line=line_of("second-call", HERE),
    )


# --------------------------------------------------------------------------- loops


def test_collected_inside_the_loop_that_produces_it() -> None:
    @pipeline
    def collected_inside() -> None:
        with ParallelFor([1, 2]) as item:
            doubled = twice(n=item)
            total(values=Collected(doubled))  # mark: collected-inside

    problem = only_problem(compile_error(collected_inside), "collected_scope")
    assert_location(
        problem,
        pipeline="collected_inside",
        task="total",
        file=HERE,
        line=line_of("collected-inside", HERE),
    )
    assert "Collected(twice.output) is used inside the ParallelFor that produces it" in (
        problem.message
    )


def test_collected_of_a_task_in_no_loop() -> None:
    @pipeline
    def collected_no_loop() -> None:
        one = number()
        total(values=Collected(one))  # mark: collected-no-loop

    problem = only_problem(compile_error(collected_no_loop), "collected_scope")
    assert_location(
        problem,
        pipeline="collected_no_loop",
        task="total",
        file=HERE,
        line=line_of("collected-no-loop", HERE),
    )
    assert "in no ParallelFor" in problem.message


def test_loop_output_used_after_the_loop_without_collected() -> None:
    @pipeline
    def leaked() -> None:
        with ParallelFor([1, 2], name="fan") as item:
            doubled = twice(n=item)
        twice(n=doubled.output)  # mark: leaked

    problem = only_problem(compile_error(leaked), "scope")
    assert_location(
        problem, pipeline="leaked", task="twice-2", file=HERE, line=line_of("leaked", HERE)
    )
    assert "produced once per iteration of ParallelFor 'fan'" in problem.message
    assert "Collected(twice.outputs['output'])" in (problem.hint or "")


def test_loop_item_used_after_the_loop() -> None:
    @pipeline
    def item_leaked() -> None:
        with ParallelFor([1, 2], name="fan") as item:
            twice(n=item)
        twice(n=item)  # mark: item-leaked

    problem = only_problem(compile_error(item_leaked), "scope")
    assert_location(
        problem,
        pipeline="item_leaked",
        task="twice-2",
        file=HERE,
        line=line_of("item-leaked", HERE),
    )
    assert "outside that loop" in problem.message


def test_collected_after_the_loop_is_accepted() -> None:
    @pipeline
    def fan_in() -> None:
        with ParallelFor([1, 2]) as item:
            doubled = twice(n=item)
        total(values=Collected(doubled))

    spec = fan_in.compile()
    assert [n.name for n in spec.dag.nodes] == ["loop-1", "total"]


# --------------------------------------------------------------------------- branches


def test_output_of_an_if_branch_used_after_the_chain() -> None:
    @pipeline
    def branch_leak() -> None:
        n = number()
        with If(n.output > 1, name="big"):
            inside = twice(n=n.output)
        twice(n=inside.output)  # mark: branch-leak

    problem = only_problem(compile_error(branch_leak), "scope")
    assert_location(
        problem,
        pipeline="branch_leak",
        task="twice-2",
        file=HERE,
        line=line_of("branch-leak", HERE),
    )
    assert "produced inside condition 'big' and may not exist here" in problem.message


def test_output_of_an_else_branch_used_in_the_if_branch() -> None:
    @pipeline
    def cross_branch() -> None:
        n = number()
        with If(n.output > 1):
            twice(n=1)
        with Elif(n.output > 0):
            in_elif = twice(n=2)
        with Else():
            twice(n=in_elif.output)  # mark: cross-branch

    error = compile_error(cross_branch)
    assert error.problems, str(error)
    for problem in error.problems:
        assert_location(
            problem,
            pipeline="cross_branch",
            task="twice-3",
            file=HERE,
            line=line_of("cross-branch", HERE),
        )
    assert any(
        "waits for 'twice-2', which is in another branch of condition 'condition-1'" in p.message
        for p in error.problems
    ), str(error)


def test_output_used_inside_its_own_branch_is_accepted() -> None:
    @pipeline
    def same_branch() -> None:
        n = number()
        with If(n.output > 1):
            inside = twice(n=n.output)
            twice(n=inside.output)

    same_branch.compile()


# --------------------------------------------------------------------------- all at once


def test_every_problem_is_reported_in_one_error() -> None:
    path = PIPELINES / "broken_many.py"
    error = compile_error(load_pipeline(str(path)))
    assert error.pipeline == "broken_many"
    assert str(error).startswith("pipeline 'broken_many' is invalid (4 problems):")
    by_code: dict[str, list[object]] = {}
    for problem in error.problems:
        by_code.setdefault(problem.code, []).append(problem)
        assert f"- {problem}" in str(error)
    assert sorted(by_code) == ["invalid_schedule", "missing_input", "type_mismatch"]
    schedule = error.problems[[p.code for p in error.problems].index("invalid_schedule")]
    assert_location(
        schedule, pipeline="broken_many", task=None, file=path, line=line_of("pipeline", path)
    )
    missing = error.problems[[p.code for p in error.problems].index("missing_input")]
    assert_location(
        missing, pipeline="broken_many", task="count-2", file=path, line=line_of("missing", path)
    )
    mismatches = {p.location.task: p for p in error.problems if p.code == "type_mismatch"}
    assert set(mismatches) == {"count", "use_model"}
    assert_location(
        mismatches["count"],
        pipeline="broken_many",
        task="count",
        file=path,
        line=line_of("constant", path),
    )
    assert_location(
        mismatches["use_model"],
        pipeline="broken_many",
        task="use_model",
        file=path,
        line=line_of("artifact", path),
    )
