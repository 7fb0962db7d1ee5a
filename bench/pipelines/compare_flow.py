"""One training task with parameters, a step-wise loss and a final accuracy: the run the
comparison benchmark copies ten thousand times."""

from __future__ import annotations

from headwater import Metrics, Output, component, pipeline


@component
def fit(lr: float, depth: int, optimizer: str, metrics: Output[Metrics]) -> float:
    accuracy = 1.0 - abs(lr - 0.1) - depth * 0.01
    for step in range(5):
        metrics.log_metric("loss", 1.0 - accuracy + (4 - step) * 0.1, step=step)
    metrics.log_metric("accuracy", accuracy)
    return accuracy


@pipeline
def compare_bench(lr: float = 0.1, depth: int = 2, optimizer: str = "adam") -> None:
    fit(lr=lr, depth=depth, optimizer=optimizer)
