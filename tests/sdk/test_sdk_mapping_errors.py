"""Task mapping used wrongly: each mistake is refused while the pipeline is defined or
compiled, naming the pipeline, the task and the line, with a fix."""

from __future__ import annotations

from typing import Any

import pytest
from markers import assert_location, compile_error, definition_error, line_of

import headwater
from headwater import Collected, Input, Model, ParallelFor, component, pipeline
from headwater.errors import PipelineDefinitionError

HERE = __file__


@component
def add(x: int, y: int, z: int = 0) -> int:
    return x + y + z


@component
def nums() -> list[int]:
    return [1, 2]


@component
def one() -> int:
    return 1


@component
def fit(model: Input[Model], rate: float) -> float:
    return rate


def test_expand_over_a_constant_that_is_not_a_list() -> None:
    @pipeline
    def expand_scalar() -> None:
        add.partial(y=1).expand(x=3)  # mark: scalar

    error = definition_error(expand_scalar)
    assert_location(
        error, pipeline="expand_scalar", task="add", file=HERE, line=line_of("scalar", HERE)
    )
    assert "expand() argument 'x' of add must be a list, got int 3" in error.message
    assert ".partial(name=value)" in (error.hint or "")


def test_expand_of_an_unknown_argument() -> None:
    @pipeline
    def expand_unknown() -> None:
        add.expand(x=[1], w=[2])  # mark: unknown

    error = definition_error(expand_unknown)
    assert_location(
        error, pipeline="expand_unknown", task="add", file=HERE, line=line_of("unknown", HERE)
    )
    assert "add.expand() got 'w', which is not an input of add" in error.message
    assert "x, y, z" in (error.hint or "")


def test_partial_of_an_unknown_argument() -> None:
    @pipeline
    def partial_unknown() -> None:
        add.partial(q=1).expand(x=[1])  # mark: partial-unknown

    error = definition_error(partial_unknown)
    assert_location(
        error,
        pipeline="partial_unknown",
        task="add",
        file=HERE,
        line=line_of("partial-unknown", HERE),
    )
    assert "add.partial() got 'q'" in error.message


def test_the_same_argument_in_partial_and_expand() -> None:
    @pipeline
    def partial_and_expand() -> None:
        add.partial(x=1, y=2).expand(x=[1, 2])  # mark: twice

    error = definition_error(partial_and_expand)
    assert_location(
        error, pipeline="partial_and_expand", task="add", file=HERE, line=line_of("twice", HERE)
    )
    assert "input 'x' of add is fixed by partial() and mapped by expand()" in error.message


def test_expand_with_nothing_or_positional_lists() -> None:
    @pipeline
    def expand_nothing() -> None:
        add.partial(y=1).expand()  # mark: nothing

    error = definition_error(expand_nothing)
    assert_location(
        error, pipeline="expand_nothing", task="add", file=HERE, line=line_of("nothing", HERE)
    )
    assert "needs at least one list" in error.message

    @pipeline
    def expand_positional() -> None:
        add.expand([1, 2])  # mark: positional

    error = definition_error(expand_positional)
    assert_location(
        error, pipeline="expand_positional", task="add", file=HERE, line=line_of("positional", HERE)
    )
    assert "takes lists by argument name" in error.message


def test_a_missing_required_input_of_a_mapped_task() -> None:
    @pipeline
    def expand_missing() -> None:
        add.expand(x=[1, 2])  # mark: missing

    problem = compile_error(expand_missing).problems[0]
    assert problem.code == "missing_input"
    assert_location(
        problem, pipeline="expand_missing", task="add", file=HERE, line=line_of("missing", HERE)
    )


def test_expand_kwargs_dicts_that_do_not_fit_the_component() -> None:
    @pipeline
    def kwargs_not_dict() -> None:
        add.partial(y=1).expand_kwargs([{"x": 1}, 2])  # mark: not-dict

    error = definition_error(kwargs_not_dict)
    assert_location(
        error, pipeline="kwargs_not_dict", task="add", file=HERE, line=line_of("not-dict", HERE)
    )
    assert "expand_kwargs() item 1 of add is int 2, not a dict of arguments" in error.message

    @pipeline
    def kwargs_lacking() -> None:
        add.expand_kwargs([{"x": 1, "y": 2}, {"x": 1}])  # mark: lacking

    error = definition_error(kwargs_lacking)
    assert_location(
        error, pipeline="kwargs_lacking", task="add", file=HERE, line=line_of("lacking", HERE)
    )
    assert "expand_kwargs() item 1 of add lacks required input(s) y" in error.message

    @pipeline
    def kwargs_fixed() -> None:
        add.partial(y=1).expand_kwargs([{"x": 1, "y": 2}])  # mark: kwargs-fixed

    error = definition_error(kwargs_fixed)
    assert "input 'y' of add is fixed by partial() and mapped by expand_kwargs() item 0" in (
        error.message
    )

    @pipeline
    def kwargs_artifact() -> None:
        fit.expand_kwargs([{"rate": 0.1}])  # mark: kwargs-artifact

    error = definition_error(kwargs_artifact)
    assert_location(
        error,
        pipeline="kwargs_artifact",
        task="fit",
        file=HERE,
        line=line_of("kwargs-artifact", HERE),
    )
    assert "cannot give artifact input 'model' of fit" in error.message
    assert "fit.partial(model=...)" in (error.hint or "")


def test_zip_and_product_take_named_lists() -> None:
    @pipeline
    def zip_positional() -> None:
        add.expand_kwargs(headwater.zip([1], [2]))  # mark: zip-positional

    error = definition_error(zip_positional)
    assert_location(
        error, pipeline="zip_positional", task=None, file=HERE, line=line_of("zip-positional", HERE)
    )
    assert "headwater.zip() takes named lists, got 2 positional argument(s)" in error.message

    @pipeline
    def zip_in_expand() -> None:
        add.expand(x=headwater.zip(x=[1], y=[2]))  # mark: zip-in-expand

    error = definition_error(zip_in_expand)
    assert "only the items of a ParallelFor or of expand_kwargs(...) can be" in error.message
    assert "expand_kwargs(headwater.zip(" in (error.hint or "")

    @pipeline
    def product_scalar() -> None:
        with ParallelFor(headwater.product(a=[1], b=7)):  # mark: product-scalar
            one()

    error = definition_error(product_scalar)
    assert_location(
        error, pipeline="product_scalar", task=None, file=HERE, line=line_of("product-scalar", HERE)
    )
    assert "product list 'b' must be a list, got int 7" in error.message


def test_mapping_over_the_outputs_of_a_mapped_task_is_refused() -> None:
    @pipeline
    def map_of_map() -> None:
        first = add.partial(y=1).expand(x=[1, 2])
        add.partial(y=1).expand(x=first.output)  # mark: map-of-map

    error = definition_error(map_of_map)
    assert_location(
        error, pipeline="map_of_map", task="add-2", file=HERE, line=line_of("map-of-map", HERE)
    )
    assert "is the list of a mapped task's or loop's outputs" in error.message


def test_a_mapped_task_output_used_inside_is_not_a_list_there() -> None:
    @pipeline
    def mapped_output_as_int() -> None:
        mapped = add.partial(y=1).expand(x=[1, 2])
        add(x=mapped.output, y=1)  # mark: as-int

    problem = compile_error(mapped_output_as_int).problems[0]
    assert problem.code == "type_mismatch"
    assert_location(
        problem,
        pipeline="mapped_output_as_int",
        task="add-2",
        file=HERE,
        line=line_of("as-int", HERE),
    )


@pytest.mark.parametrize("how", ["expand", "parallel_for", "product"])
def test_literal_lists_over_the_cap_are_refused_when_compiling(how: str) -> None:
    @pipeline
    def over_cap() -> None:
        if how == "expand":
            add.partial(y=1).expand(x=[1, 2, 3]).set_max_items(2)  # mark: cap-expand
        elif how == "parallel_for":
            with ParallelFor([1, 2, 3], max_items=2):  # mark: cap-loop
                one()
        else:
            add.expand(x=list(range(40)), y=list(range(30)))  # mark: cap-product

    error = definition_error(over_cap)
    mark = {"expand": "cap-expand", "parallel_for": "cap-loop", "product": "cap-product"}[how]
    task = "loop-1" if how == "parallel_for" else "add"
    assert_location(error, pipeline="over_cap", task=task, file=HERE, line=line_of(mark, HERE))
    if how == "product":
        assert "has 1200 literal items, over the cap of 1024 (HEADWATER_MAX_MAP_LENGTH=1024)" in (
            error.message
        )
    else:
        assert "has 3 literal items, over the cap of 2 (its max_items=2)" in error.message
    assert "HEADWATER_MAX_MAP_LENGTH" in (error.hint or "")


def test_the_compile_time_cap_follows_headwater_max_map_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @pipeline
    def literal_three() -> None:
        add.partial(y=1).expand(x=[1, 2, 3])

    monkeypatch.setenv("HEADWATER_MAX_MAP_LENGTH", "2")
    assert "over the cap of 2" in definition_error(literal_three).message
    monkeypatch.setenv("HEADWATER_MAX_MAP_LENGTH", "3")
    literal_three.compile()


def test_bad_counts_for_max_items_and_parallelism() -> None:
    @pipeline
    def bad_counts() -> None:
        add.partial(y=1).expand(x=[1]).set_parallelism(0)  # mark: bad-parallelism

    error = definition_error(bad_counts)
    assert_location(
        error, pipeline="bad_counts", task="add", file=HERE, line=line_of("bad-parallelism", HERE)
    )
    assert "mapped task parallelism must be a whole number >= 1, got 0" in error.message
    with pytest.raises(PipelineDefinitionError, match="ParallelFor max_items must be"):

        @pipeline
        def bad_max() -> None:
            with ParallelFor([1], max_items=True):
                one()

        bad_max.compile()


def test_a_mapped_task_reads_as_a_task_downstream() -> None:
    @pipeline
    def mapped_api(xs: list[int] = [1, 2]) -> Any:  # noqa: B006
        first = one()
        mapped = add.partial(y=1).expand(x=xs).after(first).set_retry(2)
        later = add(x=1, y=1).after(mapped)
        total = add.partial(y=0).expand_kwargs([{"x": 1}])
        return {"all": mapped, "later": later, "collected": Collected(total.task.output)}

    spec = mapped_api.compile()
    loop = spec.dag.nodes[1]
    assert loop.kind == "loop" and loop.mapped and loop.after == ["one"]
    assert loop.nodes[0].options.retry.max_retries == 2
    assert spec.dag.nodes[2].after == ["add-map"]
    assert spec.root.outputs["all"].describe() == "list[int]"


def test_a_trigger_rule_on_a_mapped_task_is_refused() -> None:
    @pipeline
    def mapped_rule() -> None:
        add.partial(y=1).expand(x=[1]).set_trigger_rule("all_done")  # mark: mapped-rule

    error = definition_error(mapped_rule)
    assert_location(
        error, pipeline="mapped_rule", task="add", file=HERE, line=line_of("mapped-rule", HERE)
    )
    assert "a mapped task takes no trigger rule" in error.message


def test_expand_outside_a_pipeline() -> None:
    with pytest.raises(PipelineDefinitionError) as info:
        add.expand(x=[1])  # mark: outside
    assert "add.expand(...) was used outside a pipeline" in info.value.message
    assert info.value.location.line == line_of("outside", HERE)
    assert "@headwater.pipeline" in (info.value.hint or "")
