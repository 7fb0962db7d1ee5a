"""Pipelines the Ray executor's tests run (task processes import them by name)."""

from __future__ import annotations

from headwater import Collected, Metrics, Output, ParallelFor, component, pipeline, tune_step


@component
def source() -> int:
    return 1


@component
def work(x: int, i: int) -> int:
    return x + i


@component
def total(values: list[int]) -> int:
    return sum(values)


@pipeline
def fanout(items: list[int] = list(range(200))):  # noqa: B006
    src = source()
    with ParallelFor(items) as i:
        done = work(x=src.output, i=i)
    total(values=Collected(done.output))


@component(retries=2, retry_delay=0)
def slow(i: int, seconds: float) -> int:
    import time

    time.sleep(seconds)
    return i


@pipeline
def slow_fanout(items: list[int] = list(range(8)), seconds: float = 4.0):  # noqa: B006
    with ParallelFor(items) as i:
        done = slow(i=i, seconds=seconds)
    total(values=Collected(done.output))


@component(cpu=64)
def enormous() -> None:
    print("this never runs")


@pipeline
def too_big():
    source()
    enormous()


@pipeline
def small(items: list[int] = [1, 2, 3, 4]):  # noqa: B006
    src = source()
    with ParallelFor(items) as i:
        done = work(x=src.output, i=i)
    total(values=Collected(done.output))


@component(resources={"special": 1})
def needs_special() -> str:
    return "special"


@component(resources={"head_only": 1})
def needs_head() -> str:
    return "head"


@pipeline
def custom_resources():
    needs_special()
    needs_head()


@component
def score(x: float, metrics: Output[Metrics]) -> None:
    metrics.log_metric("value", 1 - (x - 0.5) ** 2)


@pipeline
def scored(x: float = 0.0):
    score(x=x)


@component
def keep(params: dict) -> float:
    return float(params["x"])


@pipeline
def tuned_on_ray():
    best = tune_step(
        scored,
        space={"x": {"type": "float", "low": 0.0, "high": 1.0}},
        objective="score.value",
        trials=4,
        parallel=2,
        sampler="random",
        seed=1,
    )
    keep(params=best.outputs["best_params"])
