"""Reading a log directory back with TensorBoard's own event reader."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

Points = dict[str, list[tuple[int, float]]]


def read_run(folder: Path) -> Points:
    """(step, value) of every scalar in the event files of ``folder`` (one TensorBoard run),
    by tag, in the order TensorBoard reads them."""
    acc = event_accumulator.EventAccumulator(
        str(folder), size_guidance={event_accumulator.TENSORS: 0}
    )
    acc.Reload()
    return {
        tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto).item()) for e in acc.Tensors(tag)]
        for tag in acc.Tags()["tensors"]
    }


def wall_times(folder: Path, tag: str) -> list[float]:
    acc = event_accumulator.EventAccumulator(
        str(folder), size_guidance={event_accumulator.TENSORS: 0}
    )
    acc.Reload()
    return [e.wall_time for e in acc.Tensors(tag)]


def event_runs(logdir: Path) -> set[str]:
    """The TensorBoard runs of ``logdir``: each folder holding an event file, relative."""
    return {
        p.parent.relative_to(logdir).as_posix()
        for p in logdir.rglob("*")
        if p.is_file() and "tfevents" in p.name
    }


def files(logdir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(logdir).as_posix(): p.read_bytes() for p in logdir.rglob("*") if p.is_file()
    }
