"""Pipeline parameter constraints (kept light: no pydantic at import)."""

from __future__ import annotations

from typing import Any


class Param:
    """Constraints and a description for a pipeline parameter, used with ``Annotated``::

        @pipeline
        def train(lr: Annotated[float, Param(minimum=0, maximum=1)] = 0.1): ...

    The names follow JSON Schema, so they show up unchanged in the exported schema.
    """

    def __init__(
        self,
        description: str | None = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: float | None = None,
        exclusive_maximum: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        enum: list[Any] | None = None,
    ) -> None:
        self.description = description
        self.constraints = {
            "minimum": minimum,
            "maximum": maximum,
            "exclusive_minimum": exclusive_minimum,
            "exclusive_maximum": exclusive_maximum,
            "min_length": min_length,
            "max_length": max_length,
            "pattern": pattern,
            "enum": list(enum) if enum is not None else None,
        }
