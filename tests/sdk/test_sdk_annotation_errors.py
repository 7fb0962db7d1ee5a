"""Component and pipeline signatures Headwater cannot type are rejected at their definition."""

from __future__ import annotations

from typing import Any, Literal, Union

import pytest
from markers import assert_location, line_of

from headwater import Artifact, Dataset, Input, Output, component, pipeline
from headwater.errors import ComponentDefinitionError
from headwater.sdk import Component

HERE = __file__


def interface_error(c: Component) -> ComponentDefinitionError:
    """The error a component's signature raises when it is first used in a pipeline."""

    @pipeline
    def uses_it() -> None:
        c()

    with pytest.raises(ComponentDefinitionError) as info:
        uses_it.compile()
    return info.value


def test_parameter_without_annotation() -> None:
    @component  # mark: no-annotation
    def no_annotation(x) -> None:  # type: ignore[no-untyped-def]
        pass

    error = interface_error(no_annotation)
    assert_location(error, pipeline=..., task=..., file=HERE, line=line_of("no-annotation", HERE))
    assert "component 'no_annotation': parameter 'x' has no type annotation" in error.message
    assert "'x: int'" in (error.hint or "")


def test_dict_with_int_keys() -> None:
    @component  # mark: int-keys
    def int_keys(x: dict[int, str]) -> None:
        pass

    error = interface_error(int_keys)
    assert_location(error, pipeline=..., task=..., file=HERE, line=line_of("int-keys", HERE))
    assert "component 'int_keys': parameter 'x' has dict keys of type int" in error.message
    assert "dict[str, ...]" in (error.hint or "")


def test_typing_union() -> None:
    @component  # mark: typing-union
    def typing_union(x: Union[int, str]) -> None:  # noqa: UP007
        pass

    error = interface_error(typing_union)
    assert_location(error, pipeline=..., task=..., file=HERE, line=line_of("typing-union", HERE))
    assert "parameter 'x' has the union type Union[int, str]" in error.message
    assert "Optional[T]" in (error.hint or "")


def test_pipe_union() -> None:
    @component  # mark: pipe-union
    def pipe_union(x: int | str) -> None:
        pass

    error = interface_error(pipe_union)
    assert_location(error, pipeline=..., task=..., file=HERE, line=line_of("pipe-union", HERE))
    assert "parameter 'x' has the union type int | str" in error.message


def test_bare_artifact_type() -> None:
    @component  # mark: bare-dataset
    def bare_dataset(data: Dataset) -> None:
        pass

    error = interface_error(bare_dataset)
    assert_location(error, pipeline=..., task=..., file=HERE, line=line_of("bare-dataset", HERE))
    assert "parameter 'data' is annotated Dataset without Input or Output" in error.message
    assert "Input[Dataset]" in (error.hint or "") and "Output[Dataset]" in (error.hint or "")


def test_returning_an_artifact_type() -> None:
    @component  # mark: returns-artifact
    def returns_artifact() -> Dataset:
        return Dataset()

    error = interface_error(returns_artifact)
    assert_location(
        error, pipeline=..., task=..., file=HERE, line=line_of("returns-artifact", HERE)
    )
    assert "returns the artifact type Dataset" in error.message
    assert "Output[Dataset]" in (error.hint or "")


def test_input_of_a_plain_type() -> None:
    @component  # mark: input-int
    def input_int(n: Input[int]) -> None:
        pass

    error = interface_error(input_int)
    assert_location(error, pipeline=..., task=..., file=HERE, line=line_of("input-int", HERE))
    assert "'n' is Input[int], which is not an artifact type" in error.message


def test_unsupported_plain_type() -> None:
    @component  # mark: bytes-param
    def bytes_param(blob: bytes) -> None:
        pass

    error = interface_error(bytes_param)
    assert_location(error, pipeline=..., task=..., file=HERE, line=line_of("bytes-param", HERE))
    assert "parameter 'blob' has unsupported type bytes" in error.message


def test_literal_of_mixed_types() -> None:
    @component  # mark: mixed-literal
    def mixed_literal(mode: Literal["a", 1]) -> None:
        pass

    error = interface_error(mixed_literal)
    assert_location(error, pipeline=..., task=..., file=HERE, line=line_of("mixed-literal", HERE))
    assert "parameter 'mode' is a Literal of mixed or unsupported values" in error.message


def test_var_keyword_parameters() -> None:
    @component  # mark: kwargs
    def takes_kwargs(**extra: Any) -> None:
        pass

    error = interface_error(takes_kwargs)
    assert_location(error, pipeline=..., task=..., file=HERE, line=line_of("kwargs", HERE))
    assert "*args and **kwargs are not supported ('extra')" in error.message


def test_artifact_input_with_a_default() -> None:
    @component  # mark: artifact-default
    def artifact_default(data: Input[Dataset] = "x.csv") -> None:  # type: ignore[assignment]
        pass

    error = interface_error(artifact_default)
    assert_location(
        error, pipeline=..., task=..., file=HERE, line=line_of("artifact-default", HERE)
    )
    assert "artifact input 'data' has a default other than None" in error.message


def test_list_of_output_artifacts() -> None:
    @component  # mark: output-list
    def output_list(models: Output[list[Dataset]]) -> None:
        pass

    error = interface_error(output_list)
    assert_location(error, pipeline=..., task=..., file=HERE, line=line_of("output-list", HERE))
    assert "output 'models' is a list of artifacts" in error.message


def test_pipeline_parameter_without_annotation() -> None:
    @pipeline  # mark: pipeline-no-annotation
    def untyped(rate) -> None:  # type: ignore[no-untyped-def]
        pass

    with pytest.raises(ComponentDefinitionError) as info:
        untyped.compile()
    error = info.value
    assert_location(
        error, pipeline=..., task=..., file=HERE, line=line_of("pipeline-no-annotation", HERE)
    )
    assert "pipeline 'untyped': parameter 'rate' has no type annotation" in error.message


def test_pipeline_parameter_of_union_type() -> None:
    @pipeline  # mark: pipeline-union
    def union_param(rate: float | str = 0.1) -> None:
        pass

    with pytest.raises(ComponentDefinitionError) as info:
        union_param.compile()
    assert_location(
        info.value, pipeline=..., task=..., file=HERE, line=line_of("pipeline-union", HERE)
    )
    assert "pipeline 'union_param': parameter 'rate' has the union type" in info.value.message


def test_artifact_subclass_without_schema_title() -> None:
    with pytest.raises(ComponentDefinitionError) as info:

        class Untitled(Dataset):  # mark: untitled
            pass

    error = info.value
    assert_location(error, pipeline=None, task=None, file=HERE, line=line_of("untitled", HERE))
    assert "artifact class" in error.message and "Untitled does not declare a schema_title" in (
        error.message
    )
    assert 'schema_title = "yourorg.Untitled"' in (error.hint or "")


def test_subclass_of_a_custom_artifact_needs_its_own_schema_title() -> None:
    class Tabular(Artifact):
        schema_title = "tests.Tabular"

    with pytest.raises(ComponentDefinitionError) as info:

        class Parquet(Tabular):  # mark: inherits-title
            pass

    assert_location(
        info.value, pipeline=None, task=None, file=HERE, line=line_of("inherits-title", HERE)
    )
