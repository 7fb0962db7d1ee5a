"""Pipelines with a tune step (tests/tuning/test_tune_step.py).

``prepare`` appends a line to ``<marks>/prepare.log`` each time it really runs and
``fit`` one to ``<marks>/fit.log`` per trial (its x), so a test can tell what ran and how
often; ``fit`` waits ``pause`` seconds, so a test can act while a study is under way.
"""

from __future__ import annotations

from headwater import Dataset, Input, Metrics, Output, component, pipeline, tune_step


@component
def prepare(marks: str, data: Output[Dataset]) -> None:
    from pathlib import Path

    Path(marks).mkdir(parents=True, exist_ok=True)
    with (Path(marks) / "prepare.log").open("a") as f:
        f.write("prepare\n")
    Path(data.path).write_text("0.3")


@component
def fit(
    data: Input[Dataset], x: float, width: float, marks: str, pause: float, metrics: Output[Metrics]
) -> None:
    import time
    from pathlib import Path

    with (Path(marks) / "fit.log").open("a") as f:
        f.write(f"{x!r}\n")
    time.sleep(pause)
    best = float(Path(data.path).read_text())
    metrics.log_metric("score", width - (x - best) ** 2)


@pipeline
def training(marks: str = "", x: float = 0.0, width: float = 1.0, pause: float = 0.0) -> None:
    """The score peaks at x=0.3 (what the prepared data says), at ``width``."""
    fit(data=prepare(marks=marks).outputs["data"], x=x, width=width, marks=marks, pause=pause)


@component
def deploy(params: dict, value: float, run_id: str, study: str, marks: str) -> str:
    import json
    from pathlib import Path

    Path(marks, "deployed.json").write_text(
        json.dumps({"params": params, "value": value, "run_id": run_id, "study": study})
    )
    return f"x={params['x']:.3f}"


@pipeline
def nightly(marks: str = "", width: float = 2.0, pause: float = 0.0) -> str:
    """Tunes x of ``training`` (its width fixed by this pipeline's), then deploys the best."""
    best = tune_step(
        training,
        space={"x": {"type": "float", "low": 0.0, "high": 1.0}},
        objective="fit.score",
        trials=6,
        parallel=2,
        sampler="random",
        seed=7,
        marks=marks,
        width=width,
        pause=pause,
    )
    return deploy(
        params=best.outputs["best_params"],
        value=best.outputs["best_value"],
        run_id=best.outputs["best_run_id"],
        study=best.outputs["study"],
        marks=marks,
    ).output


@component
def broken(x: float) -> None:
    raise RuntimeError(f"no model for x={x}")


@pipeline
def hopeless(x: float = 0.0) -> None:
    broken(x=x)


@component
def after(params: dict) -> None:
    print(params)


@pipeline
def hopeless_nightly() -> None:
    best = tune_step(
        hopeless,
        space={"x": {"type": "float", "low": 0.0, "high": 1.0}},
        objective="broken.score",
        trials=2,
    )
    after(params=best.outputs["best_params"])
