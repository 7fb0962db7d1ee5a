"""Wiring mistakes caught while the pipeline function runs, at the line that makes them."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest
from markers import assert_location, definition_error, line_of

from headwater import Collected, ParallelFor, component, pipeline
from headwater.sdk import Pipeline

HERE = __file__


class Pair(NamedTuple):
    left: int
    right: int


@component
def number() -> int:
    return 1


@component
def split() -> Pair:
    return Pair(1, 2)


@component
def silent() -> None:
    pass


@component
def scale(n: int, factor: float = 2.0) -> float:
    return n * factor


# --------------------------------------------------------------------------- inputs


def test_unknown_input_keyword() -> None:
    @pipeline
    def unknown_input() -> None:
        scale(n=1, fctor=3.0)  # mark: unknown-input

    error = definition_error(unknown_input)
    assert_location(
        error, pipeline="unknown_input", task=..., file=HERE, line=line_of("unknown-input", HERE)
    )
    assert "scale() has no input 'fctor'" in error.message
    assert error.hint == "its inputs are: n, factor"


def test_output_name_passed_as_an_input() -> None:
    @pipeline
    def output_as_input() -> None:
        scale(n=1, output=2.0)  # mark: output-as-input

    error = definition_error(output_as_input)
    assert_location(
        error,
        pipeline="output_as_input",
        task=...,
        file=HERE,
        line=line_of("output-as-input", HERE),
    )
    assert "'output' is an output of scale; outputs are not passed in" in error.message
    assert "task.outputs['output']" in (error.hint or "")


def test_too_many_positional_arguments() -> None:
    @pipeline
    def too_many() -> None:
        scale(1, 2.0, 3)  # mark: too-many

    error = definition_error(too_many)
    assert_location(error, pipeline="too_many", task=..., file=HERE, line=line_of("too-many", HERE))
    assert "scale() takes 2 input(s) but 3 were given positionally" in error.message


def test_same_input_given_twice() -> None:
    @pipeline
    def twice() -> None:
        scale(1, n=2)  # mark: twice

    error = definition_error(twice)
    assert_location(error, pipeline="twice", task=..., file=HERE, line=line_of("twice", HERE))
    assert "scale() got input 'n' twice" in error.message


@pipeline
def later_unknown_input() -> None:
    scale(n=1)
    scale(n=2, fctor=3.0)  # mark: call-unknown-input


@pipeline
def later_output_as_input() -> None:
    scale(n=1)
    scale(n=1, output=2.0)  # mark: call-output-as-input


@pipeline
def later_too_many() -> None:
    scale(n=1)
    scale(1, 2.0, 3)  # mark: call-too-many


@pipeline
def later_twice() -> None:
    scale(n=1)
    scale(1, n=2)  # mark: call-twice


@pytest.mark.parametrize(
    ("p", "marker"),
    [
        (later_unknown_input, "call-unknown-input"),
        (later_output_as_input, "call-output-as-input"),
        (later_too_many, "call-too-many"),
        (later_twice, "call-twice"),
    ],
    ids=["unknown-input", "output-as-input", "too-many", "twice"],
)
def test_call_errors_name_the_task_the_call_would_create(p: Pipeline, marker: str) -> None:
    # Like the validator's wiring problems, a bad call names its task, which tells the
    # second call of a component ('scale-2') apart from the first.
    error = definition_error(p)
    assert error.location.task == "scale-2", str(error)
    text = str(error)
    assert "task 'scale-2' (" in text, text
    assert f"{Path(HERE).name}:{line_of(marker, HERE)})" in text, text


def test_constant_that_is_not_json() -> None:
    @pipeline
    def not_json() -> None:
        scale(n={1, 2})  # mark: not-json

    error = definition_error(not_json)
    assert_location(error, pipeline="not_json", task=..., file=HERE, line=line_of("not-json", HERE))
    assert "input 'n' of scale() gets {1, 2} (set)" in error.message


def test_condition_passed_as_an_input() -> None:
    @pipeline
    def condition_input() -> None:
        n = number()
        scale(n=n.output > 1)  # mark: condition-input

    error = definition_error(condition_input)
    assert_location(
        error,
        pipeline="condition_input",
        task=...,
        file=HERE,
        line=line_of("condition-input", HERE),
    )
    assert "input 'n' of scale() gets a condition" in error.message


# --------------------------------------------------------------------------- outputs


def test_unknown_output_name() -> None:
    @pipeline
    def unknown_output() -> None:
        n = number()
        scale(n=n.outputs["nope"])  # mark: unknown-output

    error = definition_error(unknown_output)
    assert_location(
        error,
        pipeline="unknown_output",
        task="number",
        file=HERE,
        line=line_of("unknown-output", HERE),
    )
    assert "component 'number' has no output 'nope' (its outputs: output)" in error.message


def test_output_of_a_multi_output_task_is_ambiguous() -> None:
    @pipeline
    def ambiguous() -> None:
        pair = split()
        scale(n=pair.output)  # mark: ambiguous

    error = definition_error(ambiguous)
    assert_location(
        error, pipeline="ambiguous", task="split", file=HERE, line=line_of("ambiguous", HERE)
    )
    assert "component 'split' has several outputs (left, right), so .output is ambiguous" in (
        error.message
    )
    assert error.hint == "pick one with .outputs['left']"


def test_multi_output_task_passed_whole() -> None:
    @pipeline
    def whole_task() -> None:
        pair = split()
        scale(n=pair)  # mark: whole-task

    error = definition_error(whole_task)
    assert_location(
        error, pipeline="whole_task", task="split", file=HERE, line=line_of("whole-task", HERE)
    )


def test_output_of_a_task_without_outputs() -> None:
    @pipeline
    def no_outputs() -> None:
        s = silent()
        scale(n=s.output)  # mark: no-outputs

    error = definition_error(no_outputs)
    assert_location(
        error, pipeline="no_outputs", task="silent", file=HERE, line=line_of("no-outputs", HERE)
    )
    assert "component 'silent' has no outputs" in error.message


def test_collected_of_something_that_is_not_an_output() -> None:
    @pipeline
    def collected_constant() -> None:
        with ParallelFor([1, 2]):
            scale(n=Collected(3))  # mark: collected-constant

    error = definition_error(collected_constant)
    assert_location(
        error,
        pipeline="collected_constant",
        task=...,
        file=HERE,
        line=line_of("collected-constant", HERE),
    )
    assert "Collected(...) takes a task output, not int" in error.message


# --------------------------------------------------------------------------- names and order


def test_two_groups_with_one_name() -> None:
    @pipeline
    def duplicate_groups() -> None:
        with ParallelFor([1], name="sweep") as item:
            scale(n=item)
        with ParallelFor([2], name="sweep") as item:  # mark: second-sweep
            scale(n=item)

    error = definition_error(duplicate_groups)
    assert_location(
        error, pipeline="duplicate_groups", task=..., file=HERE, line=line_of("second-sweep", HERE)
    )
    assert "the name 'sweep' is already used by another task or group" in error.message


def test_group_named_like_a_task() -> None:
    @pipeline
    def group_like_task() -> None:
        number()
        with ParallelFor([1], name="number") as item:  # mark: group-like-task
            scale(n=item)

    error = definition_error(group_like_task)
    assert_location(
        error,
        pipeline="group_like_task",
        task=...,
        file=HERE,
        line=line_of("group-like-task", HERE),
    )
    assert "'number' is already used" in error.message


def test_after_something_that_is_not_a_task() -> None:
    @pipeline
    def after_constant() -> None:
        number().after("load")  # type: ignore[arg-type]  # mark: after-constant

    error = definition_error(after_constant)
    assert_location(
        error,
        pipeline="after_constant",
        task="number",
        file=HERE,
        line=line_of("after-constant", HERE),
    )
    assert error.message.startswith(".after() takes tasks"), error.message
    assert error.message.endswith("not str"), error.message
