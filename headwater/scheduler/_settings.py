"""A schedule's effective settings: the deployed spec's, with edits laid over them.

Edits (``headwater schedules set``) change when runs are created without a redeploy:
the cron expression or interval, time zone, start and end dates, catchup and
``max_active_runs``. They are checked with the spec's own rules, against the minimum
schedule interval, and by laying out the timetable, all before anything is written: a
bad cron string is refused when it is set, not when the scheduler next looks.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pydantic

from headwater.engine import check_schedule
from headwater.errors import HeadwaterError, Location, SpecError
from headwater.spec import PipelineSpec, from_data, validate

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


def schedule_overrides(
    spec: PipelineSpec,
    overrides: dict[str, Any],
    *,
    cron: str | None = None,
    every: float | None = None,
    timezone: str | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    catchup: bool | None = None,
    max_active_runs: int | None = None,
) -> dict[str, Any]:
    """``overrides`` (edits already made to ``spec``'s schedule) with the settings given
    laid over them; the settings not given stay."""
    overrides = dict(overrides)
    if cron is not None and every is not None:
        raise HeadwaterError("give a cron expression or an interval, not both")
    if every is not None and not math.isfinite(every):
        raise SpecError(
            f"the interval {every!r} is not a finite number of seconds",
            location=Location(pipeline=spec.name),
            hint="give the interval in seconds, e.g. --every 3600 (interval_seconds: 3600)",
        )
    base = overrides.get("schedule") or (
        spec.schedule.model_dump(mode="json") if spec.schedule else {}
    )
    sched = dict(base) if isinstance(base, dict) else {}
    if (cron is not None or every is not None) and sched.get("kind") == "assets":
        sched = {"timezone": "UTC"}  # from assets to time: a fresh time schedule
    if cron is not None:
        kind = "once" if cron.strip() == "@once" else "cron"
        sched.update(kind=kind, cron=None if kind == "once" else cron, interval_seconds=None)
        sched.pop("assets", None)
        sched.pop("asset_mode", None)
    if every is not None:
        sched.update(kind="interval", cron=None, interval_seconds=every)
        sched.pop("assets", None)
        sched.pop("asset_mode", None)
    if timezone is not None:
        sched["timezone"] = timezone
    if cron is not None or every is not None or timezone is not None:
        overrides["schedule"] = sched
    for key, when in (("start_date", start_date), ("end_date", end_date)):
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            overrides[key] = when.isoformat()
    if catchup is not None:
        overrides["catchup"] = catchup
    if max_active_runs is not None:
        overrides["max_active_runs"] = max_active_runs
    return overrides


def checked_schedule(
    spec: PipelineSpec, overrides: dict[str, Any], default_start: datetime
) -> PipelineSpec:
    """``spec`` with ``overrides`` applied, refused as a compile would refuse it, and its
    timetable laid out once (so a schedule that cannot be is refused now)."""
    edited = effective_spec(spec, overrides)
    check_schedule(edited)
    if edited.schedule is not None and edited.schedule.kind != "assets":
        from headwater.scheduler._timetable import Timetable

        try:
            Timetable.for_pipeline(edited, default_start_date=default_start)
        except (OverflowError, ValueError) as exc:
            raise SpecError(
                f"the schedule of pipeline '{spec.name}' cannot be laid out: {exc}",
                location=Location(pipeline=spec.name),
                hint="check its start_date, end_date and interval",
            ) from None
    return edited


def edit_schedule(
    ws: Any,
    pipeline: str,
    *,
    reset: bool = False,
    **settings: Any,
) -> Any:
    """Change a deployed pipeline's schedule without redeploying it; returns the schedule.

    Only the settings given change (``cron``, ``every``, ``timezone``, ``start_date``,
    ``end_date``, ``catchup``, ``max_active_runs``; ``reset`` first returns to the deployed
    ones). The result is checked like a compile, so nothing invalid is saved.
    """
    schedule = ws.store.schedules.get_schedule(pipeline)
    deployed = from_data(ws.store.pipelines.get_version(schedule.version_id).spec)
    overrides = schedule_overrides(
        deployed, {} if reset else dict(schedule.overrides or {}), **settings
    )
    checked_schedule(deployed, overrides, schedule.created_at)
    return ws.store.schedules.set_schedule_overrides(pipeline, overrides)
