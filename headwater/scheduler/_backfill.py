"""Backfills: runs for the data intervals of a past period, outside the schedule."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from headwater._limits import how_to_raise, limits
from headwater.engine import Workspace, check_options, check_run_uris
from headwater.errors import HeadwaterError, LimitError, Location, SpecError
from headwater.scheduler._context import interval_parameters
from headwater.scheduler._settings import effective_spec
from headwater.scheduler._timetable import DataInterval, Timetable
from headwater.spec import PipelineSpec, from_data
from headwater.states import RUN_ACTIVE, RunStatus
from headwater.store import RunRecord, VersionRecord, new_id

Reprocess = Literal["none", "failed", "all"]
_DONE_WELL = RUN_ACTIVE | {RunStatus.SUCCEEDED}


@dataclass(frozen=True)
class BackfillPlan:
    """Which intervals a backfill covers, which already have a good run, and the version
    (with its schedule settings applied) that the new runs use."""

    trigger: str
    to_run: list[DataInterval]
    skipped: list[DataInterval]
    version: VersionRecord
    spec: PipelineSpec


def plan_backfill(
    ws: Workspace, pipeline: str, start: datetime, end: datetime, reprocess: Reprocess
) -> tuple[BackfillPlan, Timetable]:
    """The intervals starting in ``[start, end)`` and, by ``reprocess``, those to run:
    ``none`` skips intervals that have any run, ``failed`` re-runs intervals whose latest
    run failed or was cancelled, ``all`` runs every interval again. More runs than
    ``HEADWATER_MAX_BACKFILL_RUNS`` are refused (:class:`LimitError`)."""
    if end <= start:
        raise HeadwaterError(
            f"backfill end {end.isoformat()} is not after its start {start.isoformat()}",
            hint="give --start before --end",
        )
    schedule = ws.store.schedules.get_schedule(pipeline)
    version = ws.store.pipelines.get_version(schedule.version_id)
    spec = effective_spec(
        from_data(version.spec, source=f"pipeline version {version.id}"), schedule.overrides
    )
    existing = ws.store.runs.runs_by_interval(schedule.pipeline_id)
    most = limits().max_backfill_runs
    to_run: list[DataInterval] = []
    skipped: list[DataInterval] = []
    try:
        timetable = Timetable.for_pipeline(spec, default_start_date=schedule.created_at)
        # Lazily, so that a window of millions of intervals is refused at the limit, not
        # laid out first (skipped intervals each have a run, so they are few).
        for interval in timetable.iter_intervals_between(start, end):
            runs = existing.get(interval.start, [])
            if (
                reprocess == "all"
                or not runs
                or (reprocess == "failed" and runs[-1].status not in _DONE_WELL)
            ):
                to_run.append(interval)
                if len(to_run) > most:
                    raise LimitError(
                        f"the backfill of '{pipeline}' from {start.isoformat()} to "
                        f"{end.isoformat()} would create more than {most:,} runs, the most "
                        "one backfill may create",
                        location=Location(pipeline=pipeline),
                        hint="backfill a shorter window, several times if need be, or "
                        + how_to_raise("max_backfill_runs"),
                    )
            else:
                skipped.append(interval)
    except (OverflowError, ValueError) as exc:  # dates past the year 9999
        raise SpecError(
            f"the schedule of '{pipeline}' cannot be laid out: {exc}",
            location=Location(pipeline=pipeline),
            hint="check its start_date, end_date and cron with 'headwater schedules list' "
            "(GET /api/v1/schedules); change them with 'headwater schedules set' (PATCH)",
        ) from None
    trigger = f"backfill-{secrets.token_hex(4)}"
    return BackfillPlan(trigger, to_run, skipped, version, spec), timetable


def create_backfill_runs(
    ws: Workspace,
    pipeline: str,
    plan: BackfillPlan,
    timetable: Timetable,
    owner: str | None = None,
    confined: bool = True,
) -> list[RunRecord]:
    """Queue one run per interval of ``plan``, parameters rendered for its interval.

    With ``owner`` the runs are this process's to drive; without, a scheduler runs them.
    ``confined`` runs (what a server creates) read only their namespace's URI roots: the
    URIs their importers name are checked for every interval before any run is created,
    and so are the task options (one that the executor cannot honour is refused).
    """
    check_options(plan.spec, ignore_image=ws.settings.ignore_image)
    planned = []
    for interval in plan.to_run:
        run_id = new_id()
        values = interval_parameters(plan.spec, interval, run_id, timetable)
        if confined:
            check_run_uris(ws, plan.spec, values)
        planned.append((interval, run_id, values))
    return [
        ws.store.runs.create_run(
            plan.version,
            values,
            trigger=plan.trigger,
            run_id=run_id,
            interval=(interval.start, interval.end),
            owner=owner,
            confined=confined,
        )
        for interval, run_id, values in planned
    ]
