"""Pipelines for input-based caching (tests/engine).

Every task appends its name to ``<log_dir>/executions.log`` when it really runs, so a test
can tell a cache hit (no process, no line) from an execution.
"""

from __future__ import annotations

from headwater import Dataset, Input, Model, Output, component, pipeline


def _record(log_dir: str, name: str) -> None:
    from pathlib import Path

    folder = Path(log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "executions.log").open("a") as f:
        f.write(name + "\n")


def executions(log_dir: str, name: str) -> int:
    """How many times the task ``name`` really ran with this ``log_dir``."""
    from pathlib import Path

    path = Path(log_dir) / "executions.log"
    return path.read_text().splitlines().count(name) if path.exists() else 0


@component
def produce(source: str, log_dir: str, data: Output[Dataset]) -> None:
    """Copy the bytes of the file ``source`` into a dataset."""
    import shutil

    _record(log_dir, "produce")
    shutil.copyfile(source, data.path)


@component
def transform(data: Input[Dataset], log_dir: str, features: Output[Dataset]) -> None:
    from pathlib import Path

    _record(log_dir, "transform")
    Path(features.path).write_text(Path(data.path).read_text().upper())


@component
def fit(features: Input[Dataset], log_dir: str, model: Output[Model]) -> int:
    from pathlib import Path

    _record(log_dir, "fit")
    text = Path(features.path).read_text()
    Path(model.path).write_text(f"model of {len(text)} characters")
    return len(text)


@pipeline
def engine_cache_chain(source: str, log_dir: str):
    data = produce(source=source, log_dir=log_dir)
    features = transform(data=data.outputs["data"], log_dir=log_dir)
    fit(features=features.outputs["features"], log_dir=log_dir)


@pipeline
def engine_cache_rerun_upstream(source: str, log_dir: str):
    data = produce(source=source, log_dir=log_dir).set_caching_options(False)
    features = transform(data=data.outputs["data"], log_dir=log_dir)
    fit(features=features.outputs["features"], log_dir=log_dir)


@component(cache=False)
def uncached(log_dir: str) -> int:
    _record(log_dir, "uncached")
    return 1


@component
def cached(log_dir: str) -> int:
    _record(log_dir, "cached")
    return 2


@pipeline
def engine_cache_per_task(log_dir: str):
    uncached(log_dir=log_dir)
    cached(log_dir=log_dir)


@component(cache_ttl=1)
def short_lived(log_dir: str) -> int:
    _record(log_dir, "short_lived")
    return 3


@pipeline
def engine_cache_ttl(log_dir: str):
    short_lived(log_dir=log_dir)


@pipeline(cache=False)
def engine_cache_off_for_pipeline(log_dir: str):
    cached(log_dir=log_dir)
