"""A task that logs a metric series of 100,000 points, for the UI's chart scale test."""

import math

from headwater import Metrics, Output, component, pipeline


@component
def long_training(curve: Output[Metrics], points: int = 100_000) -> None:
    for step in range(points):
        curve.log_metric("loss", math.exp(-step / 20_000) + 0.01 * math.sin(step / 50), step)


@pipeline(tags=["scale"])
def long_curve(points: int = 100_000) -> None:
    long_training(points=points)
