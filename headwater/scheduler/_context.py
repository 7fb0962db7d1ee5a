"""The values a run's templates can use, under Airflow's names.

This builds the context only; rendering (a Jinja2 ``SandboxedEnvironment``) comes
later. Dates are given in the schedule's time zone, not in UTC as Airflow does:
a daily pipeline at midnight in Europe/Paris then gets ``ds`` = the Paris day it
processes, where Airflow would give the day before. The two agree for UTC
schedules, which are the default.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from headwater.engine import MACROS, Macros
from headwater.scheduler._timetable import DataInterval, Timetable
from headwater.spec import PipelineSpec

__all__ = ["MACROS", "Macros", "TemplateContext", "template_context"]

_DS = "%Y-%m-%d"


class TemplateContext(TypedDict):
    """What a run's templates see. Dates are in the schedule's time zone.

    ``prev_ds`` / ``next_ds`` are the logical dates of the regular intervals just
    before and after this run's interval (see :meth:`Timetable.interval_before`),
    or None where there is none (the first interval, the last before ``end_date``,
    ``@once``, or a run of an unscheduled pipeline).

    ``triggering_asset_events`` holds, for a run an asset schedule created, the events
    that triggered it by asset name, oldest first: each a dict with ``id``, ``asset``,
    ``kind`` (``task`` or ``external``), ``created_at``, ``source`` and ``metadata`` (an
    external event's), ``run_id``, ``task_run_id`` and ``artifact_id`` (a task's). It is
    empty for every other run. A task reads it through a parameter, e.g.
    ``events: str = "{{ triggering_asset_events | tojson }}"``.
    """

    ds: str
    ds_nodash: str
    ts: str
    ts_nodash: str
    ts_nodash_with_tz: str
    logical_date: _dt.datetime
    data_interval_start: _dt.datetime
    data_interval_end: _dt.datetime
    prev_ds: str | None
    prev_ds_nodash: str | None
    next_ds: str | None
    next_ds_nodash: str | None
    run_id: str
    params: dict[str, Any]
    macros: Macros
    triggering_asset_events: dict[str, list[dict[str, Any]]]


def template_context(
    interval: DataInterval,
    run_id: str,
    params: Mapping[str, Any],
    *,
    timetable: Timetable | None = None,
    triggering_asset_events: Mapping[str, list[dict[str, Any]]] | None = None,
) -> TemplateContext:
    """The template context of the run ``run_id`` for ``interval``.

    ``timetable`` is the pipeline's, when it has a schedule: it gives the time zone
    the dates are written in and the neighbouring intervals for ``prev_ds`` and
    ``next_ds``. Without one (a pipeline that is only run by hand) dates are in UTC
    and those two are None.
    """
    tz = timetable.timezone if timetable is not None else ZoneInfo("UTC")
    logical = interval.logical_date.astimezone(tz)
    before = timetable.interval_before(interval) if timetable is not None else None
    after = timetable.interval_after(interval) if timetable is not None else None
    prev_ds = before.logical_date.astimezone(tz).strftime(_DS) if before else None
    next_ds = after.logical_date.astimezone(tz).strftime(_DS) if after else None
    ts_nodash = logical.strftime("%Y%m%dT%H%M%S")
    return TemplateContext(
        ds=logical.strftime(_DS),
        ds_nodash=logical.strftime("%Y%m%d"),
        ts=logical.isoformat(),
        ts_nodash=ts_nodash,
        ts_nodash_with_tz=ts_nodash + logical.strftime("%z"),
        logical_date=logical,
        data_interval_start=logical,
        data_interval_end=interval.end.astimezone(tz),
        prev_ds=prev_ds,
        prev_ds_nodash=prev_ds.replace("-", "") if prev_ds else None,
        next_ds=next_ds,
        next_ds_nodash=next_ds.replace("-", "") if next_ds else None,
        run_id=run_id,
        params=dict(params),
        macros=MACROS,
        triggering_asset_events=dict(triggering_asset_events or {}),
    )


def manual_context(
    spec: PipelineSpec,
    run_id: str,
    params: Mapping[str, Any],
    *,
    now: _dt.datetime | None = None,
) -> TemplateContext:
    """The context of a run started by hand: its data interval is the instant it starts,
    written in the pipeline's schedule time zone when it has one."""
    instant = now or _dt.datetime.now(_dt.UTC)
    timed = spec.schedule is not None and spec.schedule.kind != "assets"
    timetable = Timetable.for_pipeline(spec, default_start_date=instant) if timed else None
    return template_context(DataInterval(instant, instant), run_id, params, timetable=timetable)


def interval_parameters(
    spec: PipelineSpec, interval: DataInterval, run_id: str, timetable: Timetable
) -> dict[str, Any]:
    """The parameters of a run for ``interval``: the defaults, templates rendered for it
    (and checked like any run's, see :func:`headwater.engine.render_for_run`)."""
    from headwater.engine import render_for_run

    def context(rid: str) -> TemplateContext:
        from headwater.spec import resolve_parameters

        return template_context(interval, rid, resolve_parameters(spec, {}), timetable=timetable)

    values, _ = render_for_run(spec, {}, context, run_id=run_id)
    return values
