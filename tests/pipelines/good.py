"""A pipeline that uses most of the authoring API and compiles without a problem."""

from __future__ import annotations

from typing import Annotated, Literal

from headwater import (
    Artifact,
    Collected,
    Dataset,
    Else,
    ExitHandler,
    FinalStatus,
    If,
    Input,
    Model,
    Output,
    ParallelFor,
    Param,
    component,
    importer,
    pipeline,
)


class Images(Dataset):
    schema_title = "tests.Images"


@component
def resize(raw: Input[Dataset], images: Output[Images], size: int = 64) -> int:
    return size


@component(retries=2, retry_delay="5s", timeout="10m", memory="512Mi")
def train(data: Input[Dataset], model: Output[Model], lr: float = 0.1) -> float:
    return lr


@component
def pick_best(scores: list[float]) -> float:
    return max(scores)


@component
def register(model: Input[Artifact], note: str | None = None) -> str:
    return note or ""


@component
def report(status: FinalStatus) -> None:
    pass


@pipeline(schedule="0 3 * * *", timezone="Europe/Paris", start_date="2026-01-01", tags=["tests"])
def good(
    source: str,
    lr: Annotated[float, Param("learning rate", minimum=0, maximum=1)] = 0.1,
    mode: Literal["fast", "slow"] = "fast",
    note: str | None = None,
    size: Annotated[int, Param(exclusive_minimum=0)] = 64,
) -> None:
    """Train on resized images and register the model if it beats the sweep."""
    done = report()
    with ExitHandler(done):
        raw = importer(source, Dataset)
        images = resize(raw=raw.output, size=size)
        with ParallelFor([0.01, 0.1, 1], parallelism=2) as rate:
            sweep = train(data=images.outputs["images"], lr=rate)
        best = pick_best(scores=Collected(sweep.outputs["output"]))
        final = train(data=images.outputs["images"], lr=lr)
        with If(final.outputs["output"] >= best.output):
            register(model=final.outputs["model"], note=note)
        with Else():
            register(model=images.outputs["images"], note=mode)
