"""Search spaces: every kind of dimension, conditions, and a clear error for each mistake."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import tuning_flow

from headwater.errors import TuningError
from headwater.spec import PipelineSpec
from headwater.tuning import load_space, parse_space


@pytest.fixture(scope="module")
def spec() -> PipelineSpec:
    return tuning_flow.conditional.compile()


def _sample(space_data: dict, spec: PipelineSpec, n: int = 40) -> list[dict]:
    space = parse_space(space_data, spec)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(space.suggest(trial))
        study.tell(trial, 0.0)
    return out


def test_each_kind_of_dimension_is_sampled_within_its_range(spec: PipelineSpec) -> None:
    samples = _sample(
        {
            "lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
            "layers": {"type": "int", "low": 2, "high": 8, "step": 2},
            "optimizer": {"choices": ["sgd", "adam"]},
        },
        spec,
    )
    assert all(1e-4 <= s["lr"] <= 0.1 for s in samples)
    assert {s["layers"] for s in samples} <= {2, 4, 6, 8}
    assert {s["optimizer"] for s in samples} == {"sgd", "adam"}


def test_a_conditional_parameter_is_tuned_only_where_its_condition_holds(
    spec: PipelineSpec,
) -> None:
    samples = _sample(
        {
            # Listed before its condition: the space orders them.
            "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"optimizer": "sgd"}},
            "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
        },
        spec,
    )
    for s in samples:
        assert ("momentum" in s) == (s["optimizer"] == "sgd")
    assert any("momentum" in s for s in samples) and any("momentum" not in s for s in samples)


def test_a_space_is_read_from_yaml(tmp_path: Path, spec: PipelineSpec) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("parameters:\n  lr: {type: float, low: 0.001, high: 0.1, log: true}\n")
    space = parse_space(load_space(path), spec)
    assert space.names == ["lr"]
    assert space.to_data()["lr"] == {"type": "float", "low": 0.001, "high": 0.1, "log": True}


def test_the_grid_of_a_space_lists_every_value(spec: PipelineSpec) -> None:
    space = parse_space(
        {
            "layers": {"type": "int", "low": 1, "high": 3},
            "lr": {"type": "float", "low": 0.1, "high": 0.3, "step": 0.1},
        },
        spec,
    )
    assert space.grid() == {"layers": [1, 2, 3], "lr": [0.1, 0.2, 0.3]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"depth": {"type": "int", "low": 1, "high": 3}}, "'depth' is not a parameter of pipeline"),
        ({"lr": {"type": "double", "low": 0, "high": 1}}, "'lr', field 'type': 'double'"),
        ({"lr": {"low": 0, "high": 1}}, "'lr': field 'type' is missing"),
        ({"lr": {"type": "float", "high": 1}}, "'lr': field 'low' is missing"),
        (
            {"lr": {"type": "float", "low": "a", "high": 1}},
            "'lr', field 'low': 'a' is not a number",
        ),
        ({"lr": {"type": "float", "low": 1, "high": 0}}, "field 'low' (1) is greater than"),
        ({"lr": {"type": "float", "low": 0, "high": 1, "log": True}}, "needs 'low' above 0"),
        (
            {"lr": {"type": "float", "low": 0.1, "high": 1, "log": True, "step": 0.1}},
            "'log' and 'step' cannot be used together",
        ),
        ({"lr": {"type": "float", "low": 0, "high": 1, "step": -1}}, "field 'step': -1"),
        (
            {"layers": {"type": "int", "low": 1.5, "high": 3}},
            "'layers', field 'low': 1.5 is not an integer",
        ),
        ({"lr": {"type": "float", "low": 0, "high": 1, "scale": 2}}, "unknown field(s) 'scale'"),
        ({"optimizer": {"type": "categorical", "choices": []}}, "'optimizer', field 'choices'"),
        ({"optimizer": {"choices": ["sgd", "sgd"]}}, "a value is listed twice"),
        ({"optimizer": {"choices": ["sgd", 3]}}, "3 is not a str"),
        ({"optimizer": {"type": "int", "low": 1, "high": 2}}, "'optimizer' is an int range"),
        ({"layers": {"type": "float", "low": 1, "high": 2}}, "'layers' is a float range"),
        (
            {"momentum": {"type": "float", "low": 0, "high": 1, "when": {"optimizer": "sgd"}}},
            "field 'when': 'optimizer' is not a categorical parameter of this space",
        ),
        (
            {
                "optimizer": {"choices": ["sgd", "adam"]},
                "momentum": {"type": "float", "low": 0, "high": 1, "when": {"optimizer": "rms"}},
            },
            "['rms'] is not among the choices of 'optimizer'",
        ),
        ({"lr": "fast"}, "parameter 'lr': expected a mapping"),
        ([1, 2], "expected a mapping of parameter names"),
        ({}, "expected a mapping of parameter names"),
    ],
)
def test_a_bad_space_names_the_parameter_and_the_field(
    spec: PipelineSpec, data: object, expected: str
) -> None:
    with pytest.raises(TuningError) as caught:
        parse_space(data, spec)
    assert expected in str(caught.value)


def test_every_problem_of_a_space_is_listed_at_once(spec: PipelineSpec) -> None:
    with pytest.raises(TuningError) as caught:
        parse_space({"depth": {"type": "int", "low": 1, "high": 2}, "lr": {"type": "float"}}, spec)
    text = str(caught.value)
    assert "'depth' is not a parameter" in text and "'lr': field 'low' is missing" in text


def test_a_space_file_that_is_missing_or_not_yaml_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TuningError, match="cannot read the search space"):
        load_space(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: {type: float, low: [\n")
    with pytest.raises(TuningError, match="is not valid YAML"):
        load_space(bad)


def test_a_conditional_or_stepless_float_space_has_no_grid(spec: PipelineSpec) -> None:
    with pytest.raises(TuningError, match="float without a step"):
        parse_space({"lr": {"type": "float", "low": 0, "high": 1}}, spec).grid()
    conditional = parse_space(
        {
            "optimizer": {"choices": ["sgd", "adam"]},
            "momentum": {
                "type": "float",
                "low": 0,
                "high": 1,
                "step": 0.5,
                "when": {"optimizer": "sgd"},
            },
        },
        spec,
    )
    with pytest.raises(TuningError, match="cannot search conditional parameters"):
        conditional.grid()
