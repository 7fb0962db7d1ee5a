"""``@component(register={...})``: an unknown output, or one that is no Model, is a clear
error when the pipeline compiles; a bad model name, when the component is defined."""

from __future__ import annotations

import pytest

from headwater import Dataset, Model, Output, component, pipeline
from headwater.errors import DefinitionError, ValidationError


def _compile_with(register: dict[str, str]) -> None:
    @component(register=register)
    def fit(model: Output[Model], data: Output[Dataset]) -> float:
        return 1.0

    @pipeline
    def flow() -> None:
        fit()

    flow.compile()


def test_an_unknown_output_is_refused_at_compile_time() -> None:
    with pytest.raises(ValidationError) as caught:
        _compile_with({"modle": "churn"})
    text = str(caught.value)
    assert "register names unknown output 'modle' of component 'fit'" in text
    assert "its Model outputs: model" in text


def test_an_output_that_is_no_model_is_refused_at_compile_time() -> None:
    with pytest.raises(ValidationError) as caught:
        _compile_with({"data": "churn"})
    assert "output 'data', which is" in str(caught.value) and "not a Model" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        _compile_with({"output": "churn"})
    assert "not a Model" in str(caught.value)


@pytest.mark.parametrize(
    ("register", "text"),
    [
        ({"model": "no spaces"}, "not a valid model name"),
        (["model"], "register must map output names to model names"),
        ({"model": 3}, "register must map output names to model names"),
    ],
)
def test_a_malformed_register_is_refused_where_it_is_written(register: object, text: str) -> None:
    with pytest.raises(DefinitionError) as caught:

        @component(register=register)
        def fit(model: Output[Model]) -> None: ...

    assert text in caught.value.message


def test_a_valid_register_compiles_into_the_spec() -> None:
    @component(register={"model": "churn"})
    def fit(model: Output[Model]) -> None: ...

    @pipeline
    def flow() -> None:
        fit()

    spec = flow.compile()
    assert spec.components["fit"].options.register_models == {"model": "churn"}


def test_the_kubeflow_build_refuses_register() -> None:
    from headwater.errors import ExportError
    from headwater.interop import to_kfp

    @component(register={"model": "churn"})
    def fit(model: Output[Model]) -> None: ...

    @pipeline
    def flow() -> None:
        fit()

    with pytest.raises(ExportError) as caught:
        to_kfp(flow.compile())
    [problem] = [p for p in caught.value.problems if "registers model(s)" in p.message]
    assert "registers model(s) churn in Headwater's registry" in problem.message
    assert problem.hint == "drop register=... for the Kubeflow build"
