"""Run parameters: constraints checked at compile time, run values checked before a run,
and the JSON Schema that forms and APIs read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from markers import assert_location, compile_error, line_of, only_problem

from headwater import Param, component, pipeline
from headwater.errors import ParameterError
from headwater.sdk import load_pipeline
from headwater.spec import PipelineSpec, parameters_json_schema, resolve_parameters

HERE = __file__
PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


@component
def tick() -> None:
    pass


@pytest.fixture(scope="module")
def good_spec() -> PipelineSpec:
    return load_pipeline(str(PIPELINES / "good.py")).compile()


# --------------------------------------------------------------------------- compile time


def test_default_below_its_minimum() -> None:
    @pipeline  # mark: below-minimum
    def below_minimum(n: Annotated[int, Param(minimum=5)] = 1) -> None:
        tick()

    problem = only_problem(compile_error(below_minimum), "invalid_default")
    assert_location(
        problem, pipeline="below_minimum", task=None, file=HERE, line=line_of("below-minimum", HERE)
    )
    assert "default of parameter 'n' 1 is below the minimum 5" in problem.message


def test_default_that_breaks_its_pattern() -> None:
    @pipeline  # mark: bad-pattern-default
    def bad_pattern_default(tag: Annotated[str, Param(pattern="^v[0-9]+$")] = "latest") -> None:
        tick()

    problem = only_problem(compile_error(bad_pattern_default), "invalid_default")
    assert_location(
        problem,
        pipeline="bad_pattern_default",
        task=None,
        file=HERE,
        line=line_of("bad-pattern-default", HERE),
    )
    assert "'latest' does not match the pattern '^v[0-9]+$'" in problem.message


def test_pattern_on_an_int_parameter() -> None:
    @pipeline  # mark: int-pattern
    def int_pattern(n: Annotated[int, Param(pattern="^[0-9]+$")] = 1) -> None:
        tick()

    problem = only_problem(compile_error(int_pattern), "invalid_constraint")
    assert_location(
        problem, pipeline="int_pattern", task=None, file=HERE, line=line_of("int-pattern", HERE)
    )
    assert "parameter 'n' of type int cannot have a pattern" in problem.message


def test_minimum_on_a_str_parameter() -> None:
    @pipeline  # mark: str-minimum
    def str_minimum(name: Annotated[str, Param(minimum=1)] = "a") -> None:
        tick()

    problem = only_problem(compile_error(str_minimum), "invalid_constraint")
    assert_location(
        problem, pipeline="str_minimum", task=None, file=HERE, line=line_of("str-minimum", HERE)
    )
    assert "cannot have minimum/maximum constraints" in problem.message


def test_default_of_the_wrong_type() -> None:
    @pipeline  # mark: wrong-default
    def wrong_default(name: str = 3) -> None:  # type: ignore[assignment]
        tick()

    problem = only_problem(compile_error(wrong_default), "type_mismatch")
    assert_location(
        problem, pipeline="wrong_default", task=None, file=HERE, line=line_of("wrong-default", HERE)
    )
    assert "default of parameter 'name' 3 is an int, not str" in problem.message


# --------------------------------------------------------------------------- run values


def test_run_values_are_checked_and_defaults_filled(good_spec: PipelineSpec) -> None:
    assert resolve_parameters(good_spec, {"source": "s3://b/x.csv", "lr": 1}) == {
        "source": "s3://b/x.csv",
        "lr": 1.0,
        "mode": "fast",
        "note": None,
        "size": 64,
    }
    assert isinstance(resolve_parameters(good_spec, {"source": "x", "lr": 1})["lr"], float)


def parameter_error(spec: PipelineSpec, values: dict[str, Any]) -> str:
    with pytest.raises(ParameterError) as info:
        resolve_parameters(spec, values)
    text = str(info.value)
    assert text.startswith("bad parameters for pipeline 'good':"), text
    assert info.value.hint, text
    return text


def test_unknown_run_parameter(good_spec: PipelineSpec) -> None:
    text = parameter_error(good_spec, {"source": "x", "learning_rate": 0.5})
    assert (
        "unknown parameter 'learning_rate' (the pipeline takes: lr, mode, note, size, source)"
        in (text)
    )


def test_missing_required_run_parameter(good_spec: PipelineSpec) -> None:
    text = parameter_error(good_spec, {"lr": 0.5})
    assert "missing required parameter 'source' (str)" in text


def test_mistyped_run_parameter(good_spec: PipelineSpec) -> None:
    text = parameter_error(good_spec, {"source": "x", "size": "big"})
    assert "parameter 'size' 'big' is a str, not int" in text


def test_bool_is_not_an_int(good_spec: PipelineSpec) -> None:
    text = parameter_error(good_spec, {"source": "x", "size": True})
    assert "parameter 'size' True is a bool, not int" in text


def test_out_of_range_run_parameters(good_spec: PipelineSpec) -> None:
    text = parameter_error(good_spec, {"source": "x", "lr": 1.5, "size": 0})
    assert "parameter 'lr' 1.5 is above the maximum 1" in text
    assert "parameter 'size' 0 must be greater than 0" in text


def test_run_value_outside_a_literal(good_spec: PipelineSpec) -> None:
    text = parameter_error(good_spec, {"source": "x", "mode": "medium"})
    assert "parameter 'mode' 'medium' is not one of ['fast', 'slow']" in text


def test_none_only_for_optional_parameters(good_spec: PipelineSpec) -> None:
    assert resolve_parameters(good_spec, {"source": "x", "note": None})["note"] is None
    text = parameter_error(good_spec, {"source": None})
    assert "parameter 'source' is None but must be str" in text


def test_every_bad_value_is_listed_at_once(good_spec: PipelineSpec) -> None:
    text = parameter_error(good_spec, {"oops": 1, "lr": -1, "mode": 3})
    for fragment in (
        "unknown parameter 'oops'",
        "missing required parameter 'source'",
        "parameter 'lr' -1 is below the minimum 0",
        "parameter 'mode' 3 is an int, not str",
    ):
        assert fragment in text


# --------------------------------------------------------------------------- JSON Schema


def test_parameters_json_schema(good_spec: PipelineSpec) -> None:
    assert parameters_json_schema(good_spec) == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "good",
        "description": "Train on resized images and register the model if it beats the sweep.",
        "type": "object",
        "properties": {
            "source": {"type": "string"},
            "lr": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "learning rate",
                "default": 0.1,
            },
            "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "size": {"type": "integer", "exclusiveMinimum": 0, "default": 64},
        },
        "required": ["source"],
        "additionalProperties": False,
    }


def test_json_schema_of_required_optional_literal_and_list_params() -> None:
    @pipeline
    def shapes(
        level: Literal[1, 2, 3],
        maybe: int | None,
        names: Annotated[list[str], Param("who", min_length=1, max_length=3)] = ["a"],  # noqa: B006
        code: Annotated[str, Param(min_length=2, max_length=4)] = "ab",
    ) -> None:
        tick()

    schema = parameters_json_schema(shapes.compile())
    assert schema["required"] == ["level", "maybe"]
    assert schema["properties"] == {
        "level": {"type": "integer", "enum": [1, 2, 3]},
        "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "names": {
            "type": "array",
            "items": {"type": "string"},
            # JSON Schema bounds an array's length with minItems/maxItems; minLength and
            # maxLength apply to strings only and would be ignored by validators.
            "minItems": 1,
            "maxItems": 3,
            "description": "who",
            "default": ["a"],
        },
        "code": {"type": "string", "minLength": 2, "maxLength": 4, "default": "ab"},
    }
