"""``headwater.Template``: a task argument that is a Jinja template, rendered per run."""

from __future__ import annotations

from typing import Any

__all__ = ["Template"]


class Template:
    """Text rendered with the run's context when a run is created, given to a task.

    ``task(path=headwater.Template("s3://bucket/{{ ds }}/events.parquet"))`` gives the task
    ``"s3://bucket/2026-03-01/events.parquet"`` in the run for 2026-03-01. The template sees
    what parameter templates see: ``ds``, ``ts``, ``data_interval_start``/``_end``,
    ``logical_date``, ``prev_ds``/``next_ds``, ``run_id``, ``params`` (the run's parameter
    values) and ``macros``. Rendering happens once per run, in a sandbox with limits; an
    error fails the run's creation. A plain string is never rendered, whatever it holds:
    only a ``Template`` is. It must be a whole argument of a ``str`` (or untyped) input.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            from headwater.errors import PipelineDefinitionError

            raise PipelineDefinitionError(
                f"headwater.Template() takes the template's text (a str), not "
                f"{type(text).__name__}",
                hint="write it as headwater.Template('s3://bucket/{{ ds }}/data.parquet')",
            )
        self.text = text

    def __repr__(self) -> str:
        return f"Template({self.text!r})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Template) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("Template", self.text))
