"""A quick training task with parameters and metrics: runs of one experiment to compare."""

from headwater import Metrics, Output, component, pipeline


@component
def score(lr: float, depth: int, metrics: Output[Metrics]) -> None:
    accuracy = round(1.0 - abs(lr - 0.1) - depth * 0.01, 4)
    for step in range(3):
        metrics.log_metric("loss", round(1.0 - accuracy + (2 - step) * 0.1, 4), step)
    metrics.log_metric("accuracy", accuracy)


@pipeline
def scores(lr: float = 0.1, depth: int = 2) -> None:
    score(lr=lr, depth=depth)
