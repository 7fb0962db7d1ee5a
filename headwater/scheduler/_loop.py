"""Creating the runs schedules are due for.

:func:`tick` is one pass of the scheduler: for every schedule that is not paused it
creates the runs whose data intervals have ended, oldest first (with catchup) or only
the latest (without), up to the pipeline's ``max_active_runs``; for a pipeline scheduled
on assets, one run once every asset (all-of) or any asset (any-of) has been updated.
Each run is created with its schedule moved past what it covers in one transaction, so
two schedulers never create the same run twice. Time is an argument: nothing here
reads the clock.
"""

from __future__ import annotations

from datetime import datetime

from headwater.engine import Workspace, render_for_run
from headwater.scheduler._context import interval_parameters, template_context
from headwater.scheduler._settings import effective_spec
from headwater.scheduler._timetable import DataInterval, Timetable
from headwater.spec import PipelineSpec, from_data
from headwater.store import RunRecord, ScheduleRecord, VersionRecord, new_id


def _due_runs(ws: Workspace, schedule: ScheduleRecord, now: datetime) -> list[RunRecord]:
    version = ws.store.get_version(schedule.version_id)
    deployed = from_data(version.spec, source=f"pipeline version {version.id}")
    spec = effective_spec(deployed, schedule.overrides)
    if spec.schedule is None:
        return []
    if spec.schedule.kind == "assets":
        run = _asset_run(ws, schedule, version, spec)
        return [run] if run is not None else []
    timetable = Timetable.for_pipeline(spec, default_start_date=schedule.created_at)
    last = (
        DataInterval(schedule.last_start, schedule.last_end)
        if schedule.last_start is not None and schedule.last_end is not None
        else None
    )
    limit = spec.max_active_runs
    active = ws.store.active_runs(schedule.pipeline_id) if limit is not None else 0
    created: list[RunRecord] = []
    current = schedule
    while limit is None or active < limit:
        interval = timetable.next_interval(last, now=now, catchup=spec.catchup)
        if interval is None or not timetable.due(interval, now=now):
            break
        run_id = new_id()
        values = interval_parameters(spec, interval, run_id, timetable)
        run = ws.store.create_scheduled_run(
            current, version, values, interval.start, interval.end, run_id
        )
        if run is None:  # another scheduler got there first: look again next tick
            break
        created.append(run)
        active += 1
        last = interval
        current = ws.store.get_schedule(schedule.pipeline)
    return created


def _asset_run(
    ws: Workspace, schedule: ScheduleRecord, version: VersionRecord, spec: PipelineSpec
) -> RunRecord | None:
    """The run the assets' new events call for, if they do (and max_active_runs allows)."""
    sched = spec.schedule
    assert sched is not None
    pending = ws.store.pending_asset_events(sched.assets, schedule.asset_cursor)
    updated = [name for name, events in pending.items() if events]
    ready = len(updated) == len(sched.assets) if sched.asset_mode == "all" else bool(updated)
    if not ready:
        return None
    if spec.max_active_runs is not None and (
        ws.store.active_runs(schedule.pipeline_id) >= spec.max_active_runs
    ):
        return None
    events = sorted(e for name in updated for e in pending[name])
    ids = [eid for eid, _ in events]
    times = [when for _, when in events]
    interval = DataInterval(min(times), max(times))
    run_id = new_id()
    values, _ = render_for_run(
        spec, {}, lambda rid: template_context(interval, run_id, {}), run_id=run_id
    )
    created = ws.store.create_asset_run(
        schedule.pipeline_id,
        version.id,
        schedule.asset_cursor,
        max(ids),
        ids,
        values,
        (interval.start, interval.end),
        run_id,
    )
    return ws.store.get_run(run_id) if created else None


def tick(ws: Workspace, now: datetime) -> list[RunRecord]:
    """Create every run that is due at ``now``; return them (queued, not started)."""
    created: list[RunRecord] = []
    for schedule in ws.store.schedules():
        if not schedule.paused:
            created.extend(_due_runs(ws, schedule, now))
    return created
