"""A task's metrics as TensorBoard scalars: which tag and which step each value gets.

A value logged with a step keeps it. A value logged without one takes the step after the
previous value of the same tag (0 for the first): a metric logged once (``accuracy`` at
the end) is a point at step 0, and one logged in a loop without steps is a curve over
0, 1, 2, ... in the order it was logged.

The points are put in order of step across all tags. TensorBoard's readers take a step
smaller than one already read as the restart of a job and drop the tag's points at or
after it, which would lose repeated steps of a metric logged out of order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from headwater.store import MetricPoint


@dataclass(frozen=True)
class Scalar:
    """One point of a TensorBoard scalar series."""

    tag: str
    step: int
    value: float
    wall_time: float


def scalars(points: Sequence[tuple[MetricPoint, str]]) -> list[Scalar]:
    """The scalars of one task's ``points`` (in logging order, each with the name of the
    output it was logged through), in the order they are to be written.

    A metric's tag is its key; where one task logs the same key through two outputs, the
    tag is ``output/key`` for each, so that neither series hides the other."""
    outputs: dict[str, set[str]] = {}
    for point, output in points:
        outputs.setdefault(point.key, set()).add(output)
    last: dict[str, int] = {}
    out: list[Scalar] = []
    for point, output in points:
        tag = point.key if len(outputs[point.key]) == 1 else f"{output}/{point.key}"
        step = point.step if point.step is not None else last.get(tag, -1) + 1
        last[tag] = step
        out.append(Scalar(tag, step, point.value, point.logged_at.timestamp()))
    return sorted(out, key=lambda s: s.step)  # stable: the logging order within a step
