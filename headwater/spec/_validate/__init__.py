"""Every rule a pipeline spec must keep, checked on plain spec data.

``validate(spec)`` collects every problem it finds, each with the pipeline,
the task, the user's file and line, and a fix, and raises one
:class:`~headwater.errors.ValidationError` listing them. It reads only the
spec, so specs loaded from JSON are held to the same rules as fresh ones.
"""

from __future__ import annotations

from headwater.errors import ValidationError
from headwater.spec._models import PipelineSpec
from headwater.spec._validate._common import (
    POOL_RE,
    asset_error,
    assignable,
    cron_error,
    shortest_interval,
    timezone_error,
)
from headwater.spec._validate._pipeline import PipelineChecker

__all__ = [
    "POOL_RE",
    "asset_error",
    "assignable",
    "cron_error",
    "shortest_interval",
    "timezone_error",
    "validate",
]


def validate(spec: PipelineSpec) -> PipelineSpec:
    """Check every rule; raise ValidationError listing all problems, else return ``spec``."""
    checker = PipelineChecker(spec)
    checker.run()
    if checker.problems:
        raise ValidationError(spec.name, checker.problems)
    return spec
