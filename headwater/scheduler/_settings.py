"""A schedule's effective settings: the deployed spec's, with edits laid over them.

Edits (``headwater schedules set``) change when runs are created without a redeploy:
the cron expression or interval, time zone, start and end dates, catchup and
``max_active_runs``. They are checked with the spec's own rules, so a bad cron
string is refused when it is set, not when the scheduler next looks.
"""

from __future__ import annotations

from typing import Any

import pydantic

from headwater.errors import HeadwaterError
from headwater.spec import PipelineSpec, validate

EDITABLE = ("schedule", "start_date", "end_date", "catchup", "max_active_runs")


def effective_spec(spec: PipelineSpec, overrides: dict[str, Any] | None) -> PipelineSpec:
    """``spec`` with a schedule's edited settings applied, checked like a compiled spec."""
    if not overrides:
        return spec
    data = spec.model_dump(mode="json")
    for key in EDITABLE:
        if key in overrides:
            data[key] = overrides[key]
    try:
        edited = PipelineSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HeadwaterError(
            f"schedule setting {where} of pipeline '{spec.name}': {first['msg']}",
            hint="see 'headwater schedules set --help' for the accepted values",
        ) from None
    validate(edited)  # the spec's own rules: cron syntax, time zone, dates
    return edited
