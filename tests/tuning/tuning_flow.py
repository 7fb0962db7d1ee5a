"""Pipelines for tuning tests (tests/tuning).

``prepare`` appends a line to ``<log_dir>/executions.log`` each time it really runs, so a
test can tell that the data preparation all trials share ran once.
"""

from __future__ import annotations

from headwater import Dataset, Input, Metrics, Output, component, pipeline


@component
def prepare(log_dir: str, data: Output[Dataset]) -> None:
    from pathlib import Path

    folder = Path(log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "executions.log").open("a") as f:
        f.write("prepare\n")
    Path(data.path).write_text("0.3 0.7")


@component
def train(data: Input[Dataset], x: float, y: float, metrics: Output[Metrics]) -> None:
    from pathlib import Path

    best_x, best_y = (float(v) for v in Path(data.path).read_text().split())
    metrics.log_metric("score", -((x - best_x) ** 2) - (y - best_y) ** 2)


@pipeline
def quadratic(log_dir: str = "", x: float = 0.0, y: float = 0.0) -> None:
    """The score peaks at x=0.3, y=0.7, where the prepared data says."""
    train(data=prepare(log_dir=log_dir).outputs["data"], x=x, y=y)


@component
def choose(
    optimizer: str, lr: float, momentum: float, layers: int, metrics: Output[Metrics]
) -> None:
    bonus = momentum if optimizer == "sgd" else 0.5
    metrics.log_metric("score", bonus + layers / 10 - lr)


@pipeline
def conditional(
    optimizer: str = "adam", lr: float = 0.01, momentum: float = 0.0, layers: int = 1
) -> None:
    choose(optimizer=optimizer, lr=lr, momentum=momentum, layers=layers)


@component
def curve(x: float, steps: int, pause: float, metrics: Output[Metrics]) -> None:
    """A learning curve: each step's score is x times the step; a higher x is better."""
    import time

    for step in range(steps):
        metrics.log_metric("score", x * (step + 1), step=step)
        time.sleep(pause)


@pipeline
def learning(x: float = 0.5, steps: int = 8, pause: float = 0.1) -> None:
    curve(x=x, steps=steps, pause=pause)


@component
def slow(x: float, marks: str, pause: float, metrics: Output[Metrics]) -> None:
    """Writes a mark file named after x as it starts, then waits ``pause`` seconds."""
    import time
    from pathlib import Path

    Path(marks).mkdir(parents=True, exist_ok=True)
    with (Path(marks) / "started.log").open("a") as f:
        f.write(f"{x!r}\n")
    time.sleep(pause)
    metrics.log_metric("score", x)


@pipeline
def sleepy(x: float = 0.0, marks: str = "", pause: float = 0.5) -> None:
    slow(x=x, marks=marks, pause=pause)


@component
def flaky(x: float, metrics: Output[Metrics]) -> None:
    if x > 0.0:
        raise RuntimeError("this trial fails")
    metrics.log_metric("score", x)


@pipeline
def failing(x: float = 0.0) -> None:
    flaky(x=x)


@component
def quiet(x: float) -> float:
    return x


@pipeline
def silent(x: float = 0.0) -> None:
    """Logs no metric at all."""
    quiet(x=x)
