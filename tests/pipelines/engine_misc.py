"""Pipelines for bad task results, GPU accounting, lineage and logs (tests/engine)."""

from __future__ import annotations

from headwater import Dataset, Input, Model, Output, component, pipeline


@component
def wrong_return() -> int:
    return "not a number"  # type: ignore[return-value]


@pipeline
def engine_wrong_return():
    wrong_return()


@component
def forgets_output(data: Output[Dataset]) -> None:
    print("not writing", data.path)


@pipeline
def engine_missing_output():
    forgets_output()


@component(gpu=64)
def greedy(marker: str) -> None:
    from pathlib import Path

    Path(marker).write_text("ran")


@pipeline
def engine_too_many_gpus(marker: str):
    greedy(marker=marker)


@component(gpu=1)
def on_gpu(label: str, stamp_dir: str) -> str:
    """Hold a GPU for a moment; record when, and which device it was given."""
    import os
    import time
    from pathlib import Path

    start = time.time()
    time.sleep(0.4)
    device = os.environ["CUDA_VISIBLE_DEVICES"]
    Path(stamp_dir, f"{label}.stamp").write_text(f"{start!r} {time.time()!r} {device}")
    return device


@pipeline
def engine_gpus(stamp_dir: str):
    for label in ("g1", "g2", "g3"):
        on_gpu(label=label, stamp_dir=stamp_dir)


@component
def make_dataset(rows: int, dataset: Output[Dataset]) -> None:
    from pathlib import Path

    Path(dataset.path).write_text("".join(f"{i},{i * i}\n" for i in range(rows)))
    dataset.metadata["rows"] = rows


@component
def features(dataset: Input[Dataset], table: Output[Dataset]) -> None:
    from pathlib import Path

    lines = Path(dataset.path).read_text().splitlines()
    Path(table.path).write_text("".join(f"{line},{len(line)}\n" for line in lines))


@component
def train(table: Input[Dataset], model: Output[Model]) -> None:
    from pathlib import Path

    Path(model.path).write_text(f"{len(Path(table.path).read_text().splitlines())} rows seen")


@pipeline
def engine_lineage(rows: int = 5):
    data = make_dataset(rows=rows)
    table = features(dataset=data.outputs["dataset"])
    train(table=table.outputs["table"])


@component
def chatty() -> int:
    import sys

    print("hello on stdout")
    print("hello on stderr", file=sys.stderr)
    return 1


@pipeline
def engine_chatty():
    chatty()
