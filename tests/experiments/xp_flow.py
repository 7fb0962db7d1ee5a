"""Pipelines whose runs are compared: parameters, a step-wise loss, final accuracies."""

from __future__ import annotations

from headwater import Metrics, Output, component, pipeline


@component
def fit(lr: float, depth: int, optimizer: str, metrics: Output[Metrics]) -> float:
    accuracy = round(1.0 - abs(lr - 0.1) - depth * 0.01, 6)
    for step in range(3):  # the last step's loss is the final one
        metrics.log_metric("loss", round(1.0 - accuracy + (2 - step) * 0.5, 6), step=step)
    metrics.log_metric("accuracy", accuracy)
    return accuracy


@component
def check(score: float, metrics: Output[Metrics]) -> None:
    metrics.log_metric("accuracy", round(score / 2, 6))  # a second task's 'accuracy'


@pipeline
def xp_train(lr: float = 0.1, depth: int = 2, optimizer: str = "adam") -> None:
    fit(lr=lr, depth=depth, optimizer=optimizer)


@pipeline
def xp_checked(lr: float = 0.1, depth: int = 2, optimizer: str = "adam") -> None:
    score = fit(lr=lr, depth=depth, optimizer=optimizer)
    check(score=score.outputs["output"])
