"""ml-3step with its ML code in a helper module (``ml_helpers.py``) whose functions
import numpy, pandas, scikit-learn and joblib inside themselves: the same work as
``ml3.py``, but nothing heavy is imported in a component body or at a module's top."""

import ml_helpers

from headwater import Dataset, Input, Metrics, Model, Output, component, pipeline

ROWS, COLS, SEED = 200_000, 20, 7


@component
def make_data(data: Output[Dataset], rows: int = ROWS, cols: int = COLS) -> None:
    ml_helpers.make_data(data.path, rows, cols, SEED)


@component
def train(data: Input[Dataset], model: Output[Model]) -> None:
    ml_helpers.train(data.path, model.path)


@component
def evaluate(data: Input[Dataset], model: Input[Model], metrics: Output[Metrics]) -> float:
    accuracy = ml_helpers.evaluate(data.path, model.path)
    metrics.log_metric("accuracy", accuracy)
    return accuracy


@pipeline
def ml3_helpers():
    data = make_data()
    trained = train(data=data.outputs["data"])
    evaluate(data=data.outputs["data"], model=trained.outputs["model"])
