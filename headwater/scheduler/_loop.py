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

import dataclasses
import json
import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater._limits import limits
from headwater.engine import Workspace, check_run_uris, check_schedule, render_for_run
from headwater.errors import HeadwaterError, UriNotAllowed
from headwater.scheduler._context import TemplateContext, interval_parameters, template_context
from headwater.scheduler._settings import effective_spec
from headwater.scheduler._timetable import DataInterval, Timetable
from headwater.spec import PipelineSpec, from_data
from headwater.store import (
    DueRun,
    RunRecord,
    ScheduleRaceLost,
    ScheduleRecord,
    VersionRecord,
    new_id,
)

# Versions are immutable, so their parsed specs (with a schedule's edits laid over) and
# timetables are kept between passes instead of parsed again for every schedule.
_PLANS: dict[tuple[str, str, datetime], tuple[VersionRecord, PipelineSpec, Timetable | None]] = {}
_PLANS_MAX = 8192
# The caches here hold an entry or two per schedule: their bound grows with the number of
# schedules a pass saw, or a scheduler with more schedules than the bound would empty
# them every pass and parse every spec again.
_cache_max = _PLANS_MAX
_CHUNK = 100
log = logging.getLogger("headwater.scheduler")


def _overrides_key(overrides: dict[str, object] | None) -> str:
    """A schedule's edits as a cache key (most schedules have none: no JSON to write)."""
    return json.dumps(overrides, sort_keys=True, default=str) if overrides else ""


def _plan_key(schedule: ScheduleRecord) -> tuple[str, str, datetime]:
    return (schedule.version_id, _overrides_key(schedule.overrides), schedule.created_at)


def _plan(
    ws: Workspace, schedule: ScheduleRecord, loaded: dict[str, VersionRecord] | None = None
) -> tuple[VersionRecord, PipelineSpec, Timetable | None]:
    key = _plan_key(schedule)
    found = _PLANS.get(key)
    if found is None:
        version = (loaded or {}).get(schedule.version_id) or ws.store.pipelines.get_version(
            schedule.version_id
        )
        deployed = from_data(version.spec, source=f"pipeline version {version.id}")
        spec = effective_spec(deployed, schedule.overrides)
        check_schedule(spec)  # deployed under a laxer minimum interval: refused here
        timed = spec.schedule is not None and spec.schedule.kind != "assets"
        timetable = (
            Timetable.for_pipeline(spec, default_start_date=schedule.created_at) if timed else None
        )
        if len(_PLANS) >= _cache_max:
            _PLANS.clear()
        found = _PLANS[key] = (version, spec, timetable)
    return found


# When each schedule's next run falls due, given its state: a pass skips a schedule until
# then without computing anything. Keyed on everything the answer depends on, so a
# rolled-back pass or an edit simply misses the cache.
_NEXT_DUE: dict[tuple[object, ...], datetime] = {}
# Schedules already reported as refused (a limit, an invalid edit), by their plan key.
_REPORTED: set[tuple[str, str, datetime]] = set()


def _state_key(schedule: ScheduleRecord) -> tuple[object, ...]:
    return (
        schedule.pipeline_id,
        schedule.version_id,
        _overrides_key(schedule.overrides),
        schedule.last_start,
        schedule.last_end,
        schedule.created_at,
    )


def _guarded(
    ws: Workspace,
    schedule: ScheduleRecord,
    now: datetime,
    loaded: dict[str, VersionRecord] | None = None,
    active: dict[str, int] | None = None,
    collect: list[DueRun] | None = None,
) -> tuple[list[RunRecord], datetime | None]:
    """:func:`_due_runs`, except that a schedule that cannot be worked out (a date past
    year 9999, a broken version) is logged and skipped instead of stopping the pass
    (the runs collected before that are kept, as they would have been created).
    Database errors still propagate: the pass's transaction must roll back."""
    try:
        return _due_runs(ws, schedule, now, loaded, active, collect)
    except sa.exc.SQLAlchemyError:
        raise
    except HeadwaterError as exc:  # said once per state of the schedule, not every pass
        key = _plan_key(schedule)
        if key not in _REPORTED:
            if len(_REPORTED) >= _cache_max:
                _REPORTED.clear()
            _REPORTED.add(key)
            # A URI outside the roots: no run until the URI or the roots change.
            what = "created no run" if isinstance(exc, UriNotAllowed) else "skipped"
            log.error("schedule of pipeline '%s' %s: %s", schedule.pipeline, what, exc)
        return [], None
    except Exception:
        log.exception(
            "schedule of pipeline '%s' skipped: it cannot be worked out", schedule.pipeline
        )
        return [], None


def _due_runs(
    ws: Workspace,
    schedule: ScheduleRecord,
    now: datetime,
    loaded: dict[str, VersionRecord] | None = None,
    active_runs: dict[str, int] | None = None,
    collect: list[DueRun] | None = None,
) -> tuple[list[RunRecord], datetime | None]:
    """The runs due for ``schedule`` at ``now``, and when its next run falls due.

    At most ``max_runs_per_pass`` runs (``HEADWATER_MAX_RUNS_PER_PASS``) per schedule
    and pass: a long catchup is spread over passes instead of one pass creating
    thousands of runs.

    With ``collect``, the runs of a time schedule are not created but added to it, for
    :meth:`~headwater.store.ScheduleStore.create_scheduled_runs` to create with those
    of other schedules (``active_runs`` then holds the pipelines' active runs, read
    together); an asset schedule's run is created here either way.
    """
    known = _NEXT_DUE.get(_state_key(schedule))
    if known is not None and now < known:
        return [], known
    version, spec, timetable = _plan(ws, schedule, loaded)
    if spec.schedule is None:
        return [], None
    if spec.schedule.kind == "assets":
        run = _asset_run(ws, schedule, version, spec)
        return ([run] if run is not None else []), None
    assert timetable is not None
    last = (
        DataInterval(schedule.last_start, schedule.last_end)
        if schedule.last_start is not None and schedule.last_end is not None
        else None
    )
    limit = spec.max_active_runs
    active = 0
    if limit is not None:
        known_active = (active_runs or {}).get(schedule.pipeline_id)
        active = (
            known_active
            if known_active is not None
            else ws.store.runs.active_runs(schedule.pipeline_id)
        )
    created: list[RunRecord] = []
    current = schedule
    next_due = None
    per_pass = limits().max_runs_per_pass
    count = 0  # runs created or collected
    while (limit is None or active < limit) and count < per_pass:
        interval = timetable.next_interval(last, now=now, catchup=spec.catchup)
        if interval is None:
            break
        if not timetable.due(interval, now=now):
            next_due = interval.end
            break
        run_id = new_id()
        values = interval_parameters(spec, interval, run_id, timetable)
        check_run_uris(ws, spec, values)
        if collect is not None:  # created with the other schedules' runs
            collect.append(DueRun(run_id, values, interval.start, interval.end))
        else:
            run = ws.store.schedules.create_scheduled_run(
                current, version, values, interval.start, interval.end, run_id
            )
            if run is None:  # another scheduler got there first: look again next tick
                break
            created.append(run)
        count += 1
        active += 1
        last = interval
        current = dataclasses.replace(current, last_start=interval.start, last_end=interval.end)
    if next_due is not None:
        if len(_NEXT_DUE) >= _cache_max:
            _NEXT_DUE.clear()
        _NEXT_DUE[_state_key(current)] = next_due
    return created, next_due


def _asset_run(
    ws: Workspace, schedule: ScheduleRecord, version: VersionRecord, spec: PipelineSpec
) -> RunRecord | None:
    """The run the assets' new events call for, if they do (and max_active_runs allows)."""
    sched = spec.schedule
    assert sched is not None
    pending = ws.store.assets.pending_asset_events(sched.assets, schedule.asset_cursor)
    updated = [name for name, events in pending.items() if events]
    ready = len(updated) == len(sched.assets) if sched.asset_mode == "all" else bool(updated)
    if not ready:
        return None
    if spec.max_active_runs is not None and (
        ws.store.runs.active_runs(schedule.pipeline_id) >= spec.max_active_runs
    ):
        return None
    events = sorted(e for name in updated for e in pending[name])
    ids = [eid for eid, _ in events]
    times = [when for _, when in events]
    interval = DataInterval(min(times), max(times))
    run_id = new_id()

    def context(rid: str) -> TemplateContext:
        # What the run's templates see of the events that triggered it, by asset
        # (Airflow's triggering_asset_events), an external event's source and metadata
        # included; read only when a parameter is a template.
        triggering: dict[str, list[dict[str, Any]]] = {}
        for event in ws.store.assets.events_by_id(ids):
            triggering.setdefault(event.asset, []).append(event.context())
        return template_context(interval, run_id, {}, triggering_asset_events=triggering)

    values, _ = render_for_run(spec, {}, context, run_id=run_id)
    check_run_uris(ws, spec, values)
    created = ws.store.assets.create_asset_run(
        schedule.pipeline_id,
        version.id,
        schedule.asset_cursor,
        max(ids),
        ids,
        values,
        (interval.start, interval.end),
        run_id,
        experiment=schedule.pipeline,
    )
    return ws.store.runs.get_run(run_id) if created else None


def tick(ws: Workspace, now: datetime) -> list[RunRecord]:
    """Create every run that is due at ``now``; return them (queued, not started)."""
    return scheduler_pass(ws, now)[0]


def scheduler_pass(ws: Workspace, now: datetime) -> tuple[list[RunRecord], datetime | None]:
    """:func:`tick`, also saying when the next time-scheduled run falls due (None if no
    schedule has one), so that a scheduler can wake up just then."""
    global _cache_max
    created: list[RunRecord] = []
    soonest: datetime | None = None
    schedules = ws.store.schedules.list()
    _cache_max = max(_PLANS_MAX, 2 * len(schedules))
    active = [s for s in schedules if not s.paused]
    # Runs are created a chunk of schedules per transaction: one commit for many runs.
    for i in range(0, len(active), _CHUNK):
        chunk = active[i : i + _CHUNK]
        # Versions not parsed yet are read in one query, not one per schedule.
        loaded = ws.store.pipelines.versions_by_id(
            s.version_id for s in chunk if _plan_key(s) not in _PLANS
        )
        try:
            with ws.store.batch():
                runs, due = _chunk(ws, chunk, now, loaded)
        except (ScheduleRaceLost, sa.exc.IntegrityError):
            # Another scheduler moved one of these schedules first: one at a time, each
            # in its own transaction, so that only the schedules it moved are skipped.
            results = [_guarded(ws, s, now, loaded) for s in chunk]
            runs = [run for made, _ in results for run in made]
            due = [when for _, when in results if when is not None]
        created.extend(runs)
        for when in due:
            if soonest is None or when < soonest:
                soonest = when
    return created, soonest


def _chunk(
    ws: Workspace, chunk: list[ScheduleRecord], now: datetime, loaded: dict[str, VersionRecord]
) -> tuple[list[RunRecord], list[datetime]]:
    """The runs due for a chunk of schedules, created together (inside the caller's
    batch), and when each schedule's next run falls due."""

    def limits_runs(schedule: ScheduleRecord) -> bool:
        known = _NEXT_DUE.get(_state_key(schedule))
        if known is not None and now < known:
            return False  # not due: nothing to count
        plan = _PLANS.get(_plan_key(schedule))
        return plan is None or plan[1].max_active_runs is not None

    # The active runs of the pipelines that limit them, read in one query.
    active = ws.store.runs.active_runs_of(s.pipeline_id for s in chunk if limits_runs(s))
    made: dict[str, list[RunRecord]] = {}
    due: list[datetime] = []
    writes: list[tuple[ScheduleRecord, VersionRecord, list[DueRun]]] = []
    for schedule in chunk:
        collect: list[DueRun] = []
        runs, when = _guarded(ws, schedule, now, loaded, active, collect)
        made[schedule.pipeline_id] = runs  # an asset schedule's run, created already
        if when is not None:
            due.append(when)
        if collect:
            writes.append((schedule, _plan(ws, schedule, loaded)[0], collect))
    for run in ws.store.schedules.create_scheduled_runs(writes):
        made[run.pipeline_id].append(run)
    return [run for runs in made.values() for run in runs], due
