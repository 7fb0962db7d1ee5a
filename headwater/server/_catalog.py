"""Pipelines and their versions, schedules, backfills and assets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from headwater.errors import ApiError, HeadwaterError, LimitError
from headwater.server._access import Called, Permission, needs, scoped_state
from headwater.server._deps import ServerState, page, utc
from headwater.server._schemas import (
    AssetEventIn,
    AssetEventOut,
    AssetOut,
    BackfillIn,
    BackfillOut,
    DeployedOut,
    Page,
    PipelineOut,
    Problem,
    ScheduleIn,
    ScheduleOut,
    VersionDetail,
    VersionOut,
)
from headwater.spec import PipelineSpec, from_data
from headwater.store import AssetEventRecord, ScheduleRecord, VersionRecord

router = APIRouter(prefix="/api/v1")
St = Annotated[ServerState, Depends(scoped_state)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")]
_ALL = 1_000_000


def _version_out(v: VersionRecord) -> dict[str, Any]:
    return {
        "id": v.id,
        "pipeline": v.pipeline,
        "digest": v.digest,
        "created_at": v.created_at,
        "deployed": v.source_manifest is not None,
        "files": sorted(v.source_manifest or {}),
    }


def _next(spec: PipelineSpec, sched: ScheduleRecord) -> tuple[datetime | None, datetime | None]:
    from headwater.scheduler import DataInterval, Timetable

    if spec.schedule is None or spec.schedule.kind == "assets" or sched.paused:
        return None, None
    last = (
        DataInterval(sched.last_start, sched.last_end)
        if sched.last_start is not None and sched.last_end is not None
        else None
    )
    try:
        timetable = Timetable.for_pipeline(spec, default_start_date=sched.created_at)
        found = timetable.next_interval(last, now=datetime.now(UTC), catchup=spec.catchup)
    except (OverflowError, ValueError):  # its next interval would end after the year 9999
        return None, None
    except HeadwaterError:  # stored before today's rules refused it: listed, not laid out
        return None, None
    return (found.start, found.end) if found is not None else (None, None)


def _live_spec(s: ServerState, sched: ScheduleRecord) -> PipelineSpec:
    """The spec a schedule runs with its edits; the deployed one when the stored edits no
    longer pass today's rules (one bad schedule must not break every list)."""
    from headwater.scheduler import effective_spec

    deployed = from_data(s.ws.store.pipelines.get_version(sched.version_id).spec)
    try:
        return effective_spec(deployed, sched.overrides)
    except HeadwaterError:
        return deployed


def _schedule_out(s: ServerState, sched: ScheduleRecord) -> dict[str, Any]:
    spec = _live_spec(s, sched)
    sc = spec.schedule
    start, end = _next(spec, sched)
    return {
        "pipeline": sched.pipeline,
        "version_id": sched.version_id,
        "paused": sched.paused,
        "kind": sc.kind if sc else None,
        "cron": sc.cron if sc else None,
        "interval_seconds": sc.interval_seconds if sc else None,
        "timezone": sc.timezone if sc else None,
        "assets": list(sc.assets) if sc and sc.kind == "assets" else None,
        "asset_mode": sc.asset_mode if sc and sc.kind == "assets" else None,
        "start_date": spec.start_date,
        "end_date": spec.end_date,
        "catchup": spec.catchup,
        "max_active_runs": spec.max_active_runs,
        "last_start": sched.last_start,
        "last_end": sched.last_end,
        "next_start": start,
        "next_end": end,
        "overrides": sched.overrides,
    }


@router.get(
    "/pipelines", response_model=Page[PipelineOut], tags=["pipelines"], **needs(Permission.READ)
)
def list_pipelines(
    s: St,
    limit: Limit = 50,
    offset: Offset = 0,
    prefix: Annotated[str | None, Query(max_length=128)] = None,
    tag: Annotated[str | None, Query(max_length=128)] = None,
    recent: Annotated[int, Query(ge=0, le=50, description="Recent runs per pipeline.")] = 10,
) -> Any:
    """Pipelines with their tags, owner, parameters, schedule, next run and recent runs."""
    if tag is None:
        found, total = s.ws.store.queries.page_pipelines(prefix=prefix, limit=limit, offset=offset)
    else:  # tags are inside the specs: filter them all, then cut the page
        every, _ = s.ws.store.queries.page_pipelines(prefix=prefix, limit=_ALL, offset=0)
        tagged = [p for p in every if tag in from_data(p.latest_spec).tags]
        found, total = tagged[offset : offset + limit], len(tagged)
    schedules = {x.pipeline: x for x in s.ws.store.schedules.list()}
    recents = s.ws.store.queries.recent_run_states([p.id for p in found], recent)
    items = []
    for p in found:
        spec = from_data(p.latest_spec)
        sched = schedules.get(p.name)
        next_end = None
        if sched is not None:
            live = _live_spec(s, sched)
            next_end = _next(live, sched)[1]
            spec = live
        items.append(
            {
                "id": p.id,
                "name": p.name,
                "description": p.description or spec.description,
                "versions": p.versions,
                "latest_version_id": p.latest_version_id,
                "updated_at": p.updated_at,
                "tags": spec.tags,
                "owner": spec.owner,
                "parameters": {k: v.model_dump(mode="json") for k, v in spec.parameters.items()},
                "schedule": spec.schedule.describe() if spec.schedule else None,
                "paused": sched.paused if sched else None,
                "next_run_at": next_end,
                "recent_runs": recents.get(p.id, []),
            }
        )
    return page(items, total, limit, offset)


_BUNDLE_BODY = {
    "requestBody": {
        "required": True,
        "description": "A source bundle: a tar archive (gzip-compressed or plain) of the "
        "pipeline file and the files its components need, with paths relative to the "
        "pipeline file's folder ('headwater deploy FILE --server URL' makes one).",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/pipelines",
    response_model=DeployedOut,
    status_code=201,
    tags=["pipelines"],
    openapi_extra={**_BUNDLE_BODY, **needs(Permission.DEPLOY)["openapi_extra"]},
    dependencies=needs(Permission.DEPLOY)["dependencies"],
    responses={
        200: {"model": DeployedOut, "description": "These sources were deployed before"},
        400: {"model": Problem, "description": "An unsafe or damaged bundle"},
        413: {"model": Problem, "description": "A bundle past the size limit"},
        422: {"model": Problem, "description": "The pipeline did not compile"},
    },
)
async def deploy_pipeline(
    s: St,
    request: Request,
    response: Response,
    target: Annotated[
        str,
        Query(
            min_length=1,
            max_length=1000,
            description="FILE or FILE:PIPELINE, the pipeline file's path inside the bundle.",
        ),
    ],
) -> Any:
    """Deploy a pipeline from a source bundle, as 'headwater deploy' does on a machine with
    the database: the same sources give the same version (200), new ones a new version
    (201). The pipeline is compiled in a separate process with time and memory limits;
    deploying runs the bundle's code on the server."""
    from headwater.engine import deploy_bundle

    body = await request.body()
    if not body:
        raise ApiError(
            400,
            "the request body is empty: it should be a source bundle",
            hint="send a tar.gz of the pipeline's files; 'headwater deploy FILE --server URL' "
            "makes and sends one",
        )
    # Unpacking and compiling wait on a child process: off the event loop.
    version = await run_in_threadpool(deploy_bundle, s.ws, body, target)
    if not version.new:
        response.status_code = 200
    return {**_version_out(version), "new": version.new}


@router.get(
    "/pipelines/{name}/versions",
    response_model=Page[VersionOut],
    tags=["pipelines"],
    **needs(Permission.READ),
)
def list_versions(s: St, name: str, limit: Limit = 50, offset: Offset = 0) -> Any:
    versions = s.ws.store.pipelines.list_versions(name)
    if not versions:
        raise ApiError(404, f"no pipeline '{name}'", hint="list pipelines at /api/v1/pipelines")
    chunk = versions[offset : offset + limit]
    return page([_version_out(v) for v in chunk], len(versions), limit, offset)


@router.get(
    "/versions/{version_id}",
    response_model=VersionDetail,
    tags=["pipelines"],
    **needs(Permission.READ),
)
def get_version(s: St, version_id: str) -> Any:
    """A version with its full spec (the DAG, parameters' schema, options)."""
    v = s.ws.store.pipelines.get_version(version_id)
    return {**_version_out(v), "spec": v.spec}


@router.get(
    "/versions/{version_id}/source",
    tags=["pipelines"],
    response_model=dict[str, str],
    **needs(Permission.READ),
)
def get_source(s: St, version_id: str) -> Any:
    """The deployed snapshot's files: path -> text."""
    v = s.ws.store.pipelines.get_version(version_id)
    if v.source_manifest is None:
        raise ApiError(
            404,
            f"version {v.id} was not deployed, so it has no stored source",
            hint="deploy the pipeline with 'headwater deploy FILE'",
        )
    return {
        k: data.decode("utf-8", "replace")
        for k, data in s.ws.store.pipelines.read_sources(v).items()
    }


# ---------------------------------------------------------------------- schedules


@router.get(
    "/schedules", response_model=list[ScheduleOut], tags=["schedules"], **needs(Permission.READ)
)
def list_schedules(s: St) -> Any:
    return [_schedule_out(s, x) for x in s.ws.store.schedules.list()]


@router.get(
    "/schedules/{pipeline}",
    response_model=ScheduleOut,
    tags=["schedules"],
    **needs(Permission.READ),
)
def get_schedule(s: St, pipeline: str) -> Any:
    return _schedule_out(s, s.ws.store.schedules.get_schedule(pipeline))


@router.patch(
    "/schedules/{pipeline}",
    response_model=ScheduleOut,
    tags=["schedules"],
    **needs(Permission.SCHEDULE),
)
def edit_schedule(s: St, pipeline: str, body: ScheduleIn) -> Any:
    """Edit a schedule without redeploying (cron or interval, time zone, dates, catchup,
    max_active_runs), or pause and unpause it. Checked like a compile and against the
    minimum schedule interval before anything is written; all of it in one transaction."""
    from headwater.scheduler import edit_schedule as edit

    fields = body.model_fields_set - {"paused"}
    start_date = utc(body.start_date, "start_date")
    end_date = utc(body.end_date, "end_date")
    with s.ws.store.batch():
        if fields:
            edit(
                s.ws,
                pipeline,
                cron=body.cron,
                every=body.interval_seconds,
                timezone=body.timezone,
                start_date=start_date,
                end_date=end_date,
                catchup=body.catchup,
                max_active_runs=body.max_active_runs,
                reset=body.reset,
            )
        if body.paused is not None:
            s.ws.store.schedules.set_paused(pipeline, body.paused)
    return _schedule_out(s, s.ws.store.schedules.get_schedule(pipeline))


@router.post(
    "/schedules/{pipeline}/backfills",
    response_model=BackfillOut,
    tags=["schedules"],
    **needs(Permission.SCHEDULE),
)
def backfill(s: St, pipeline: str, body: BackfillIn) -> Any:
    """Queue a run for every data interval starting in [start, end); schedulers run them."""
    from headwater.scheduler import create_backfill_runs, plan_backfill

    start, end = utc(body.start, "start"), utc(body.end, "end")
    try:
        plan, timetable = plan_backfill(s.ws, pipeline, start, end, body.reprocess)  # type: ignore[arg-type]
    except (OverflowError, ValueError) as exc:  # dates past the year 9999
        raise ApiError(
            422,
            f"the schedule of '{pipeline}' cannot be laid out: {exc}",
            hint="check its start_date, end_date and cron with GET /api/v1/schedules/"
            f"{pipeline}; edit them with PATCH",
        ) from None
    runs = create_backfill_runs(s.ws, pipeline, plan, timetable)
    if runs and s.wake_scheduler is not None:
        s.wake_scheduler()
    return {"trigger": plan.trigger, "runs": runs, "skipped": [i.start for i in plan.skipped]}


# ---------------------------------------------------------------------- assets


@router.get("/assets", response_model=Page[AssetOut], tags=["assets"], **needs(Permission.READ))
def list_assets(
    s: St,
    limit: Limit = 50,
    offset: Offset = 0,
    prefix: Annotated[str | None, Query(max_length=512)] = None,
) -> Any:
    items = s.ws.store.assets.list_assets(prefix=prefix, limit=limit + 1, offset=offset)
    more = len(items) > limit
    total = offset + len(items) if not more else offset + limit + 1
    return page(items[:limit], total, limit, offset)


@router.get(
    "/asset-events", response_model=Page[AssetEventOut], tags=["assets"], **needs(Permission.READ)
)
def list_asset_events(
    s: St,
    limit: Limit = 50,
    offset: Offset = 0,
    asset: Annotated[str | None, Query(max_length=512)] = None,
    run_id: Annotated[str | None, Query(max_length=32)] = None,
) -> Any:
    """Asset updates, newest first: the run, task attempt and artifact behind each, and
    the runs each triggered."""
    items = s.ws.store.assets.asset_events(
        asset=asset, run_id=run_id, limit=limit + 1, offset=offset
    )
    more = len(items) > limit
    total = offset + len(items) if not more else offset + limit + 1
    return page([_event_out(e) for e in items[:limit]], total, limit, offset)


def _event_out(e: AssetEventRecord) -> dict[str, Any]:
    return {**e.__dict__, "kind": e.kind, "triggered": list(e.triggered)}


@router.post(
    "/assets/{name:path}/events",
    response_model=AssetEventOut,
    status_code=201,
    tags=["assets"],
    responses={404: {"model": Problem}, 413: {"model": Problem}},
    **needs(Permission.RUN),
)
def post_asset_event(s: St, who: Called, name: str, body: AssetEventIn | None = None) -> Any:
    """Record that the asset was updated outside any run (Airflow's ``POST
    /assets/events``), by the caller, with ``metadata``: the pipelines scheduled on it
    run on the scheduler's next pass and see the event in ``triggering_asset_events``.
    The asset must be known to the namespace (a deployed pipeline is scheduled on it or
    updates it): an unknown name answers 404 rather than creating an asset. The name
    goes in the path as it is (``/assets/s3://lake/orders/events``) or %-escaped."""
    user, token = who.who.user.name, who.who.token.name
    try:
        event = s.ws.store.assets.record_external_event(
            name,
            source=f"{user} (token '{token}')"[:256],
            metadata=body.metadata if body is not None else None,
        )
    except LimitError as exc:  # too large to store: the HTTP status that says so
        raise ApiError(413, exc.message, hint=exc.hint) from None
    if s.wake_scheduler is not None:
        s.wake_scheduler()
    return _event_out(event)
