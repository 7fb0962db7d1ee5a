"""Run-time values misused while a pipeline is being built give located errors, not crashes."""

from __future__ import annotations

import pytest
from markers import line_of

from headwater import component, pipeline
from headwater.errors import PipelineDefinitionError

HERE = __file__


@component
def echo(text: str) -> str:
    return text


def test_arithmetic_on_a_parameter() -> None:
    @pipeline
    def p(folder: str = "x"):
        echo(text=folder + "/out")  # mark: add

    with pytest.raises(PipelineDefinitionError) as info:
        p.compile()
    err = info.value
    assert "no arithmetic or string operations" in err.message
    assert err.location.line == line_of("add", HERE)
    assert "compute with it there" in (err.hint or "")


def test_f_string_of_a_task_output() -> None:
    @pipeline
    def p():
        first = echo(text="a")
        echo(text=f"{first.output}-b")  # mark: fstring

    with pytest.raises(PipelineDefinitionError) as info:
        p.compile()
    assert "cannot be formatted into a string" in info.value.message
    assert info.value.location.line == line_of("fstring", HERE)


def test_any_exception_in_the_pipeline_function_points_at_its_line() -> None:
    @pipeline
    def p():
        echo(text="a")
        {}["missing"]  # mark: keyerror

    with pytest.raises(PipelineDefinitionError) as info:
        p.compile()
    err = info.value
    assert "building the pipeline raised KeyError" in err.message
    assert err.location.pipeline == "p"
    assert err.location.line == line_of("keyerror", HERE)
    assert isinstance(err.__cause__, KeyError)
